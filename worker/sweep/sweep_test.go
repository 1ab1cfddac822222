package sweep_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/huawei"
	"github.com/remediator/remediator/worker/sweep"
)

const huaweiAccount = "5f1e2d3c4b5a69788796a5b4c3d2e1f0"

type bundle struct {
	sim     *cloudsim.Simulator
	sweeper *sweep.Sweeper
}

// setup serves the demo's simulator state and builds a sweeper on the
// built-in rules and the demo's policy, through the real SDKs.
func setup(t *testing.T, seedPath string) bundle {
	t.Helper()
	seed, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := cloudsim.ParseSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(parsed)
	srv, err := cloudsim.Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = srv.Close(ctx)
	})
	hw := huawei.New(huawei.Config{Credentials: huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL(), Timeout: 3 * time.Second})
	ali := alibaba.New(alibaba.Config{Credentials: alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: cloudsim.DemoSecretKey},
		Endpoint: srv.URL(), Timeout: 3 * time.Second})
	reg, err := action.NewRegistry(append(hw.Actions(), ali.Actions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.LoadWithBuiltin(reg, "../../testdata/rules/demo")
	if err != nil {
		t.Fatal(err)
	}
	return bundle{sim: sim, sweeper: &sweep.Sweeper{Rules: set, Actions: reg, Inventory: kmsInventory{hw},
		Scope: sweep.Scope{Accounts: map[string][]string{"huawei": {huaweiAccount}}}}}
}

// kmsInventory lists Huawei KMS keys, as cmd/remediator's does.
type kmsInventory struct{ hw *huawei.Provider }

func (i kmsInventory) ListKMSKeys(ctx context.Context, account, region, project string, each func(sweep.KMSKey) error) error {
	return i.hw.ListKMSKeys(ctx, account, region, project, func(k huawei.KMSKey) error {
		rotatable, _ := k.Rotatable()
		return each(sweep.KMSKey{ID: k.ID, Enabled: k.Enabled(), Rotatable: rotatable})
	})
}

// rowKey names a row in the expectations: check and resource.
func rowKey(r sweep.Row) string { return r.Check + " " + r.Resource }

func TestSweepFindsExactlyTheDrift(t *testing.T) {
	t.Parallel()
	b := setup(t, "../../testdata/cloudsim/demo.yaml")
	rep, err := b.sweeper.Run(context.Background(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sweep.Status{
		"alibaba.ecs.default_disk_key 1234567890123456/cn-beijing":                sweep.Compliant,
		"alibaba.ecs.default_disk_key 1234567890123456/cn-hangzhou":               sweep.NonCompliant,
		"alibaba.ecs.default_disk_key 1234567890123456/cn-shanghai":               sweep.NonCompliant,
		"alibaba.ecs.default_disk_key 1234567890123456/cn-shenzhen":               sweep.Compliant,
		"huawei.evs.default_key 0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d/evs-default-key": sweep.NonCompliant,
		"huawei.evs.default_key 1c6b8a4d3e9f5c2b0a7d6e5f4b3c2d1e/evs-default-key": sweep.Compliant,
		"huawei.kms.key_disabled 8a9b0c1d-9999-4999-8999-000000000011":            sweep.NonCompliant,
		"huawei.kms.key_disabled 9b0c1d2e-aaaa-4aaa-8aaa-000000000022":            sweep.Compliant,
		// Enabled keys that can rotate; the default, imported and disabled
		// keys are not listed for the check.
		"huawei.kms.key_rotation 0d0466b0-e727-4d9c-b35d-f84bb474a37f": sweep.NonCompliant,
		"huawei.kms.key_rotation 2c3d4e5f-1111-4111-8111-00000000beef": sweep.NonCompliant,
		"huawei.kms.key_rotation 1a2b3c4d-0000-4000-8000-00000000abcd": sweep.Compliant,
		"huawei.kms.key_rotation a1b2c3d4-7777-4777-8777-0000000000ee": sweep.Compliant,
		"huawei.kms.key_rotation 8a9b0c1d-9999-4999-8999-000000000011": sweep.Compliant,
		"huawei.kms.key_rotation b2c3d4e5-8888-4888-8888-0000000000ff": sweep.Compliant,
	}
	got := map[string]sweep.Row{}
	for _, r := range rep.Rows {
		if _, dup := got[rowKey(r)]; dup {
			t.Errorf("two rows for %s", rowKey(r))
		}
		got[rowKey(r)] = r
	}
	for k, st := range want {
		r, ok := got[k]
		switch {
		case !ok:
			t.Errorf("no row for %s", k)
		case r.Status != st:
			t.Errorf("%s: %s (%s), want %s", k, r.Status, r.Reason, st)
		case st == sweep.NonCompliant && (!r.Remediable || r.State == "" || r.Want == "" || r.Rule == ""):
			t.Errorf("%s: non-compliant row without its state, plan or rule: %+v", k, r)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d: %v", len(got), len(want), slices.Collect(maps.Keys(got)))
	}
	if n := len(rep.Findings()); n != 6 {
		t.Errorf("%d findings to publish, want 6", n)
	}
	sum := map[string]sweep.Summary{}
	for _, s := range rep.Summary {
		sum[s.Check] = s
	}
	if s := sum[sweep.CheckAlibabaDefaultKey]; s.Compliant != 2 || s.NonCompliant != 2 {
		t.Errorf("alibaba summary %+v", s)
	}
	// The sweep only read.
	calls := b.sim.Calls()
	for _, c := range calls {
		if c.Write {
			t.Errorf("the sweep made a write: %+v", c)
		}
	}
	if len(calls) == 0 {
		t.Error("the simulator saw no call")
	}
}

// The same sweep id publishes the same finding ids; another id others.
func TestSweepFindingIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, "../../testdata/cloudsim/demo.yaml")
	ids := func(id string) []string {
		rep, err := b.sweeper.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range rep.Findings() {
			out = append(out, f.ID)
		}
		return out
	}
	a1, a2, b1 := ids("a"), ids("a"), ids("b")
	if strings.Join(a1, ",") != strings.Join(a2, ",") {
		t.Errorf("one sweep id gave two sets of ids: %v and %v", a1, a2)
	}
	for _, id := range b1 {
		for _, other := range a1 {
			if id == other {
				t.Errorf("sweeps a and b share the finding id %s", id)
			}
		}
	}
}

// A provider answering errors for some reads: the sweep finishes, and
// those resources are unknown with the reason; the rest are judged.
func TestSweepReadErrorsAreUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, "../../testdata/cloudsim/demo.yaml")
	b.sim.Inject(cloudsim.Fault{Op: "evs.get-default-encryption-status", Count: 100, Status: 503, Code: "EVS.0001", Message: "service unavailable"})
	b.sim.Inject(cloudsim.Fault{Op: "ecs.DescribeDiskEncryptionByDefaultStatus", Count: 100, Status: 400, Code: "Throttling.User", Message: "Request was denied due to user flow control."})
	rep, err := b.sweeper.Run(context.Background(), "t3")
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for _, r := range rep.Rows {
		switch r.Check {
		case sweep.CheckHuaweiEVSKey, sweep.CheckAlibabaDefaultKey:
			if r.Status != sweep.Unknown || r.Reason == "" {
				t.Errorf("%s: %s (%q), want unknown with a reason", rowKey(r), r.Status, r.Reason)
			}
			unknown++
		case sweep.CheckHuaweiKMSDisabled:
			if r.Status == sweep.Unknown {
				t.Errorf("%s: unknown (%s), though its reads were answered", rowKey(r), r.Reason)
			}
		}
	}
	if unknown != 6 {
		t.Errorf("%d unknown rows, want 6 (4 Alibaba regions, 2 EVS projects)", unknown)
	}
	for _, r := range rep.Rows {
		if r.Check == sweep.CheckAlibabaDefaultKey && !strings.Contains(r.Reason, "throttl") {
			t.Errorf("%s: reason %q does not say throttled", rowKey(r), r.Reason)
		}
	}
}
