package worker

// LedgerKeyForTest exposes the ledger's key derivation to the external tests.
func LedgerKeyForTest(prefix string, parts ...string) string { return ledgerKey(prefix, parts...) }
