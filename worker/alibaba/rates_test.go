package alibaba

import "testing"

// TestDocumentedRates: the rates the actions declare are the documented
// ones, one bucket per ECS API.
func TestDocumentedRates(t *testing.T) {
	t.Parallel()
	want := "ecs.DescribeDiskDefaultKMSKeyId=9:1,ecs.DescribeDiskEncryptionByDefaultStatus=9:1," +
		"ecs.ModifyDiskDefaultKMSKeyId=9:1,ecs.ResetDiskDefaultKMSKeyId=9:1"
	if got := DocumentedRates().String(); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
