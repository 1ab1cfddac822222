package action

// AccountCredentials picks the credentials a provider signs an account's
// calls with: with accounts set, that account's entry (an account not
// listed has none); otherwise def, for every account. usable says whether
// the credentials picked can sign. vendor ("Huawei", "Alibaba") words the
// no_credentials errors, which never hold the credentials.
func AccountCredentials[C any](def C, accounts map[string]C, account, vendor string, usable func(C) bool) (C, error) {
	c := def
	if len(accounts) > 0 {
		var ok bool
		if c, ok = accounts[account]; !ok {
			var zero C
			return zero, Errorf(Permanent, ReasonNoCredentials, "", "no credentials configured for %s account %q", vendor, account)
		}
	}
	if !usable(c) {
		var zero C
		return zero, Errorf(Permanent, ReasonNoCredentials, "", "no %s Cloud credentials configured", vendor)
	}
	return c, nil
}
