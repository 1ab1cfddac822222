package huawei

import "testing"

// TestDocumentedRates: one bucket KMS shares, one per EVS API (declared
// by the EVS action).
func TestDocumentedRates(t *testing.T) {
	t.Parallel()
	want := "evs.get-default-encryption-status=9:1,evs.get-default-key=9:1,evs.update-default-key=9:1,kms=18:2"
	if got := DocumentedRates().String(); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
