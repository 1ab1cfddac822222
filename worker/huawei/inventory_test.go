package huawei

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

// Projects of the inventory seeds: big holds 2,500 generated keys; the
// others hold the seed's own keys and EVS states.
const (
	projBig    = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
	projEVSOn  = "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"
	projEVSOff = "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"
	approved   = "aaaaaaaa-0000-4000-8000-000000000001"
)

const inventorySeed = seed + `
    ` + projEVSOn + `:
      region: cn-north-4
      kms_keys: [{id: ` + approved + `, alias: approved, rotation: true}]
      evs: {default_encryption: true, default_kms_key_id: ` + approved + `}
    ` + projEVSOff + `:
      region: cn-north-4
      evs: {default_encryption: false}
  generate:
    - {project: ` + projBig + `, region: cn-north-4, count: 2500, rotation_off_every: 7, disabled_every: 50, external_every: 100, asymmetric_every: 250}
`

type inventory struct {
	sim *cloudsim.Simulator
	p   *Provider
	url string
}

func setupInventory(t *testing.T, seedText string, mod func(*Config)) inventory {
	t.Helper()
	s, err := cloudsim.ParseSeed([]byte(seedText))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(s)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	return inventory{sim: sim, p: New(cfg), url: srv.URL}
}

// list collects a project's keys.
func (b inventory) list(t *testing.T, proj string) ([]KMSKey, error) {
	t.Helper()
	var keys []KMSKey
	err := b.p.ListKMSKeys(context.Background(), "", "cn-north-4", proj, func(k KMSKey) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}

func (b inventory) listCalls(proj string) []cloudsim.Call {
	var out []cloudsim.Call
	for _, c := range b.sim.Calls() {
		if c.Op == opListKeys && c.Project == proj {
			out = append(out, c)
		}
	}
	return out
}

// TestListKMSKeysPaginates: 2,500 keys at 100 a page, through the real
// SDK: every key once, in the listing's order, in 25 calls whose markers
// are the previous pages' next_marker; the 25th page ends it (truncated
// false), so no 26th call is made.
func TestListKMSKeysPaginates(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	keys, err := b.list(t, projBig)
	if err != nil {
		t.Fatal(err)
	}
	want := b.sim.KeyIDs(projBig)
	if len(want) != 2500 || len(keys) != len(want) {
		t.Fatalf("listed %d keys, the project has %d (want 2500)", len(keys), len(want))
	}
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k.ID] {
			t.Fatalf("key %s listed twice", k.ID)
		}
		seen[k.ID] = true
		if k.ID != want[i] {
			t.Fatalf("key %d is %s, want %s (listing order)", i, k.ID, want[i])
		}
	}
	calls := b.listCalls(projBig)
	if len(calls) != 25 {
		t.Fatalf("%d list-keys calls, want 25", len(calls))
	}
	for i, c := range calls {
		marker := ""
		if i > 0 {
			marker = fmt.Sprint(i * ListKeysPageSize)
		}
		if c.Params["limit"] != "100" || c.Params["marker"] != marker || c.Params["key_spec"] != "ALL" || c.Status != 200 {
			t.Errorf("call %d: %v status %d, want limit 100, marker %q, key_spec ALL, 200", i+1, c.Params, c.Status, marker)
		}
	}
	// What key_details say comes through: spot-check a generated key of each kind.
	byID := map[string]KMSKey{}
	for _, k := range keys {
		byID[k.ID] = k
	}
	for n, want := range map[int]KMSKey{
		1:   {State: "2", Origin: "kms", Spec: "AES_256", RotationListed: "true", Alias: "key-000001"},
		7:   {State: "2", Origin: "kms", Spec: "AES_256", RotationListed: "false", Alias: "key-000007"},
		50:  {State: "3", Origin: "kms", Spec: "AES_256", RotationListed: "true", Alias: "key-000050"},
		100: {State: "3", Origin: "external", Spec: "AES_256", RotationListed: "false", Alias: "key-000100"},
		250: {State: "3", Origin: "kms", Spec: "RSA_2048", RotationListed: "false", Alias: "key-000250"},
	} {
		want.ID = cloudsim.GeneratedKeyID(projBig, n)
		if got := byID[want.ID]; got != want {
			t.Errorf("key %d: %+v, want %+v", n, got, want)
		}
	}
	if ok, why := byID[cloudsim.GeneratedKeyID(projBig, 100)].Rotatable(); ok || !strings.Contains(why, "imported") {
		t.Errorf("imported key rotatable = %v (%s)", ok, why)
	}
}

// TestListKMSKeysPerProject: each project lists its own keys; a project
// the credentials cannot reach is a classified error naming the API.
func TestListKMSKeysPerProject(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	small, err := b.list(t, project)
	if err != nil {
		t.Fatal(err)
	}
	if len(small) != 7 {
		t.Errorf("project %s: %d keys, want the seed's 7", project, len(small))
	}
	for _, k := range small {
		if strings.HasPrefix(k.Alias, "key-") {
			t.Errorf("project %s lists generated key %+v", project, k)
		}
	}
	on, err := b.list(t, projEVSOn)
	if err != nil || len(on) != 1 || on[0].ID != approved || !on[0].Enabled() || on[0].StateName() != "enabled" {
		t.Errorf("project %s: %+v, %v; want the approved key alone", projEVSOn, on, err)
	}
	none, err := b.list(t, projEVSOff)
	if err != nil || len(none) != 0 {
		t.Errorf("project %s: %+v, %v; want no keys", projEVSOff, none, err)
	}
	_, err = b.list(t, "f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9")
	wantErr(t, err, action.Permanent, action.ReasonPermissionDenied)
	if err == nil || !strings.Contains(err.Error(), "kms.list-keys") {
		t.Errorf("err = %v, want it to name kms.list-keys", err)
	}
}

// TestListKMSKeysThrottled: list-keys throttled by the gateway in the
// middle of a listing is the classified throttle error, and the listing
// stops there.
func TestListKMSKeysThrottled(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	seen := 0
	err := b.p.ListKMSKeys(context.Background(), "", "cn-north-4", projBig, func(KMSKey) error {
		if seen++; seen == 150 { // on page 2: the next call (page 3) is throttled
			b.sim.Inject(cloudsim.Fault{Op: opListKeys, Count: 1, Status: 429, Code: "APIGW.0308"})
		}
		return nil
	})
	wantErr(t, err, action.Retryable, action.ReasonThrottled)
	var ae *action.Error
	if errors.As(err, &ae) && (ae.Code != "APIGW.0308" || !strings.HasPrefix(ae.Msg, "kms.list-keys: ")) {
		t.Errorf("err = %v, want code APIGW.0308 and the API named", err)
	}
	if seen != 200 || len(b.listCalls(projBig)) != 3 {
		t.Errorf("saw %d keys in %d calls, want 200 in 3", seen, len(b.listCalls(projBig)))
	}
	// each's own error stops the listing and comes back as it is.
	stop := errors.New("enough")
	if err := b.p.ListKMSKeys(context.Background(), "", "cn-north-4", projBig, func(KMSKey) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("err = %v, want each's error", err)
	}
}

// TestListKeysBadMarker: a marker the API does not know is the API's 400,
// classified permanent with its code, through the provider's client.
func TestListKeysBadMarker(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	ctx := context.Background()
	c, err := b.p.kmsClient(ctx, "", "cn-north-4", projBig)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"next-please", "-1"} {
		_, err = invoke[model.ListKeysResponse](ctx, b.p, c, opListKeys,
			&model.ListKeysRequest{Body: &model.ListKeysRequestBody{Marker: &marker}}, kms.GenReqDefForListKeys())
		wantErr(t, err, action.Permanent, action.ReasonProviderError)
		var ae *action.Error
		if errors.As(err, &ae) && ae.Code != "KMS.1602" {
			t.Errorf("marker %q: code %q, want KMS.1602", marker, ae.Code)
		}
	}
}

// TestListKMSKeysPaced: list-keys draws from the bucket KMS shares (the
// documented rates have no bucket of its own for it), so a slow "kms"
// rate slows a listing down.
func TestListKMSKeysPaced(t *testing.T) {
	t.Parallel()
	if _, own := DocumentedRates()[opListKeys]; own {
		t.Errorf("documented rates give %s a bucket of its own; KMS counts it against the quota its APIs share", opListKeys)
	}
	if _, ok := DocumentedRates()["kms"]; !ok {
		t.Fatal("no kms bucket in the documented rates")
	}
	b := setupInventory(t, inventorySeed, func(c *Config) {
		c.Limiter = action.NewRateLimiter(action.Rates{"kms": {PerSecond: 20, Burst: 1}})
	})
	start := time.Now()
	if _, err := b.list(t, projBig); err != nil {
		t.Fatal(err)
	}
	// 25 calls, one at once, 20 a second: at least 24/20 s.
	if d := time.Since(start); d < 1150*time.Millisecond {
		t.Errorf("25 pages in %v at 20/s: not paced", d)
	}
}

// TestKeyRotation reads the rotation status of keys on and off.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	for key, want := range map[string]bool{keyOn: true, keyOff: false} {
		on, err := b.p.KeyRotation(context.Background(), "", "cn-north-4", project, key)
		if err != nil || on != want {
			t.Errorf("key %s: rotation %v, %v; want %v", key, on, err, want)
		}
	}
	_, err := b.p.KeyRotation(context.Background(), "", "cn-north-4", project, keyMissing)
	wantErr(t, err, action.Permanent, action.ReasonNotFound)
}

// TestEVSDefaultEncryption reads each project's own EVS state.
func TestEVSDefaultEncryption(t *testing.T) {
	t.Parallel()
	b := setupInventory(t, inventorySeed, nil)
	cases := []struct {
		proj    string
		enabled bool
		key     string
	}{{projEVSOn, true, approved}, {projEVSOff, false, ""}}
	for _, tc := range cases {
		enabled, key, err := b.p.EVSDefaultEncryption(context.Background(), "", "cn-north-4", tc.proj)
		if err != nil || enabled != tc.enabled || key != tc.key {
			t.Errorf("project %s: %v %q %v, want %v %q", tc.proj, enabled, key, err, tc.enabled, tc.key)
		}
	}
	// A failed read names its API and keeps its class.
	b.sim.Inject(cloudsim.Fault{Op: "evs.get-default-key", Count: 1, Status: 503, Code: "EVS.0001"})
	_, _, err := b.p.EVSDefaultEncryption(context.Background(), "", "cn-north-4", projEVSOn)
	wantErr(t, err, action.Retryable, action.ReasonUnavailable)
	if err == nil || !strings.Contains(err.Error(), "evs.get-default-key") {
		t.Errorf("err = %v, want the API named", err)
	}
}

// TestListTenThousandKeys lists 10,000 keys over 10 projects with the
// real SDK, paced at the documented rates, and logs the time and calls.
// It takes about 6 s (100 calls at 18 a second): skipped with -short.
func TestListTenThousandKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 10,000 keys at the documented pace")
	}
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("huawei:\n  generate:\n")
	projects := make([]string, 10)
	for i := range projects {
		projects[i] = fmt.Sprintf("%032x", 0xa000+i)
		fmt.Fprintf(&sb, "    - {project: %s, region: cn-north-4, count: 1000, rotation_off_every: 7, disabled_every: 50, external_every: 100}\n", projects[i])
	}
	b := setupInventory(t, sb.String(), func(c *Config) { c.Limiter = action.NewRateLimiter(DocumentedRates()) })
	start := time.Now()
	total, off := 0, 0
	for _, proj := range projects {
		err := b.p.ListKMSKeys(context.Background(), "", "cn-north-4", proj, func(k KMSKey) error {
			total++
			if ok, _ := k.Rotatable(); ok && k.Enabled() && k.RotationListed == "false" {
				off++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d := time.Since(start)
	calls := len(b.sim.Calls())
	t.Logf("listed %d keys over %d projects in %v with %d list-keys calls (%s); %d enabled rotatable keys with rotation off",
		total, len(projects), d.Round(time.Millisecond), calls, DocumentedRates().String(), off)
	if total != 10_000 || calls != 100 {
		t.Errorf("listed %d keys in %d calls, want 10000 in 100", total, calls)
	}
	// Per project, 142 of 1000 have rotation off; 2 of those (350, 700) are disabled.
	if off != 1400 {
		t.Errorf("%d enabled rotatable keys with rotation off, want 1400", off)
	}
}
