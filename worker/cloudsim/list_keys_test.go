package cloudsim

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
)

const genProject = "9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a"

// genSeed adds 1,000 generated keys to the test project's own six, and a
// project of 300 keys that only generate names.
const genSeed = testSeed + `
  generate:
    - {project: ` + testProject + `, count: 1000, rotation_off_every: 7, disabled_every: 50, pending_deletion_every: 200,
       external_every: 100, asymmetric_every: 250, default_every: 500, alias_prefix: gen}
    - {project: ` + genProject + `, region: eu-west-101, count: 300}
`

func setupGen(t *testing.T) fixture {
	t.Helper()
	seed, err := ParseSeed([]byte(genSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim := New(seed)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return fixture{sim: sim, kms: client(t, srv.URL, DemoAccessKey, DemoSecretKey, testProject), url: srv.URL}
}

func str(s string) *string { return &s }

func (f fixture) list(body *model.ListKeysRequestBody) (*model.ListKeysResponse, error) {
	return f.kms.ListKeys(&model.ListKeysRequest{Body: body})
}

// TestGenerateCounts: the generator makes Count keys per entry with the
// documented share of each kind, deterministic ids, and the seed's own
// keys kept beside them.
func TestGenerateCounts(t *testing.T) {
	t.Parallel()
	f := setupGen(t)
	ids := f.sim.KeyIDs(testProject)
	if len(ids) != 1006 {
		t.Fatalf("%d keys, want 6 seeded + 1000 generated", len(ids))
	}
	count := map[string]int{}
	for n := 1; n <= 1000; n++ {
		k, ok := f.sim.Key(testProject, GeneratedKeyID(testProject, n))
		if !ok {
			t.Fatalf("generated key %d (%s) missing", n, GeneratedKeyID(testProject, n))
		}
		if k.Alias != fmt.Sprintf("gen-%06d", n) {
			t.Errorf("key %d alias %q", n, k.Alias)
		}
		count["state "+k.State]++
		count["origin "+k.Origin]++
		count["spec "+k.Spec]++
		if !k.Rotation {
			count["rotation off"]++
		}
		if k.Default {
			count["default"]++
		}
	}
	// rotation off: the 142 multiples of 7, and the 12 multiples of 100 or
	// 250 (imported, asymmetric or default), less 700 counted twice: 153.
	want := map[string]int{"state 4": 5, "state 3": 15, "state 2": 980, "origin external": 10, "origin kms": 990,
		"spec RSA_2048": 4, "spec AES_256": 996, "default": 2, "rotation off": 153}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d keys, want %d", k, count[k], n)
		}
	}
	if got := f.sim.KeyIDs(genProject); len(got) != 300 || got[0] != GeneratedKeyID(genProject, 1) {
		t.Errorf("project %s: %d keys starting %v, want 300 from key 1", genProject, len(got), got[:min(1, len(got))])
	}
	if GeneratedKeyID(testProject, 1) != GeneratedKeyID(testProject, 1) || GeneratedKeyID(testProject, 1) == GeneratedKeyID(genProject, 1) {
		t.Error("generated ids are not per project")
	}
	if !keyIDPattern.MatchString(GeneratedKeyID(genProject, 999_999)) {
		t.Errorf("%s is not a KMS key id", GeneratedKeyID(genProject, 999_999))
	}
}

func TestGenerateValidation(t *testing.T) {
	t.Parallel()
	src := `
huawei:
  projects:
    ` + testProject + `: {region: cn-north-4}
  generate:
    - {project: ` + testProject + `, region: cn-east-3, count: 0}
    - {project: nothex, count: 10, disabled_every: -1}
    - {project: ` + genProject + `, count: 2000000}
`
	_, err := ParseSeed([]byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"huawei.generate[0]: region cn-east-3 differs from huawei.projects." + testProject + ".region cn-north-4",
		"huawei.generate[0]: count must be at least 1",
		`huawei.generate[1]: project "nothex" is not a project id`,
		"huawei.generate[1]: region is required",
		"huawei.generate[1]: disabled_every must be 0 (off) or more",
		"huawei.generate[2]: region is required",
		"huawei.generate: 2000010 keys in all, at most 1000000",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Two entries for one project number on: no duplicate ids.
	two := `
huawei:
  generate:
    - {project: ` + genProject + `, region: cn-north-4, count: 5}
    - {project: ` + genProject + `, count: 5}
`
	s, err := ParseSeed([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	if ids := New(s).KeyIDs(genProject); len(ids) != 10 || ids[9] != GeneratedKeyID(genProject, 10) {
		t.Errorf("ids %v, want keys 1..10", ids)
	}
}

// TestListKeysWire: list-keys as the SDK's model parses it: key_spec
// left out lists AES_256 keys only, ALL every key; key_state filters;
// total counts the matches; the last page says truncated "false" with no
// next_marker.
func TestListKeysWire(t *testing.T) {
	t.Parallel()
	f := setupGen(t)
	all := model.GetListKeysRequestBodyKeySpecEnum().ALL
	r, err := f.list(&model.ListKeysRequestBody{Limit: str("400"), KeySpec: &all})
	if err != nil {
		t.Fatal(err)
	}
	if *r.Total != 1006 || len(*r.Keys) != 400 || len(*r.KeyDetails) != 400 || r.Truncated.Value() != "true" || *r.NextMarker != "400" {
		t.Fatalf("first page: total %d, %d keys, %d details, truncated %s, next %q", *r.Total, len(*r.Keys), len(*r.KeyDetails), r.Truncated.Value(), *r.NextMarker)
	}
	if d := (*r.KeyDetails)[0]; *d.KeyId != (*r.Keys)[0] || *d.Realm != "cn-north-4" || d.KeySpec == nil || d.Origin == nil {
		t.Errorf("key_details[0] = %v", d)
	}
	r, err = f.list(&model.ListKeysRequestBody{Limit: str("400"), Marker: str("800"), KeySpec: &all})
	if err != nil {
		t.Fatal(err)
	}
	if len(*r.Keys) != 206 || r.Truncated.Value() != "false" || (r.NextMarker != nil && *r.NextMarker != "") {
		t.Errorf("last page: %d keys, truncated %s, next %v", len(*r.Keys), r.Truncated.Value(), r.NextMarker)
	}
	if want := f.sim.KeyIDs(testProject)[800:]; !slices.Equal(*r.Keys, want) {
		t.Error("last page is not the listing's last 206 keys")
	}
	r, err = f.list(&model.ListKeysRequestBody{Marker: str("5000"), KeySpec: &all})
	if err != nil || len(*r.Keys) != 0 || r.Truncated.Value() != "false" {
		t.Errorf("past the end: %v, %v; want an empty last page", r, err)
	}
	// No key_spec: AES_256 only (the 6 seeded keys and 996 of the generated).
	r, err = f.list(&model.ListKeysRequestBody{})
	if err != nil || *r.Total != 1002 || len(*r.Keys) != 1002 || r.Truncated.Value() != "false" {
		t.Errorf("default key_spec: total %v, %v; want 1002 AES_256 keys at once", r.Total, err)
	}
	r, err = f.list(&model.ListKeysRequestBody{KeyState: str("4"), KeySpec: &all})
	if err != nil || *r.Total != 6 {
		t.Errorf("pending deletion: total %v, %v; want 5 generated + 1 seeded", r.Total, err)
	}
	for _, d := range *r.KeyDetails {
		if *d.KeyState != "4" {
			t.Errorf("key_state filter let %s (state %s) through", *d.KeyId, *d.KeyState)
		}
	}
}

func TestListKeysErrors(t *testing.T) {
	t.Parallel()
	f := setupGen(t)
	for _, tc := range []struct {
		body *model.ListKeysRequestBody
		code string
	}{
		{&model.ListKeysRequestBody{Marker: str("next")}, "KMS.1602"},
		{&model.ListKeysRequestBody{Marker: str("-5")}, "KMS.1602"},
		{&model.ListKeysRequestBody{Limit: str("0")}, "KMS.1601"},
		{&model.ListKeysRequestBody{Limit: str("ten")}, "KMS.1601"},
		{&model.ListKeysRequestBody{KeyState: str("7")}, "KMS.0308"},
	} {
		_, err := f.list(tc.body)
		wantCode(t, err, 400, tc.code)
	}
	_, err := client(t, f.url, DemoAccessKey, DemoSecretKey, "f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9").ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{}})
	wantCode(t, err, 403, "APIGW.0305")
	// Faults and quotas apply to list-keys by its name and by "kms".
	f.sim.Inject(Fault{Op: "kms.list-keys", Count: 1, Status: 429, Code: throttleCode})
	_, err = f.list(&model.ListKeysRequestBody{})
	wantCode(t, err, 429, throttleCode)
	f.sim.SetChaos(Chaos{Quotas: map[string]Quota{"kms": {PerSecond: 2}}})
	var last error
	for range 3 {
		_, last = f.list(&model.ListKeysRequestBody{Limit: str("1")})
	}
	wantCode(t, last, 429, throttleCode)
	calls := f.sim.Calls()
	if c := calls[len(calls)-1]; c.Op != "kms.list-keys" || c.Params["limit"] != "1" || c.Status != 429 {
		t.Errorf("last call logged as %+v", c)
	}
}
