package cloudsim

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
)

const (
	testProject = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"
	keyOff      = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	keyOn       = "1a2b3c4d-0000-4000-8000-00000000abcd"
	keyDefault  = "3d4e5f60-2222-4222-8222-000000000def"
	keyImported = "4e5f6071-3333-4333-8333-0000000000aa"
	keyDisabled = "5f607182-4444-4444-8444-0000000000bb"
	keyDeleting = "7b8c9d0e-6666-4666-8666-0000000000dd"
	keyMissing  = "9f9f9f9f-dead-4bee-8fee-000000000000"
)

const testSeed = `
huawei:
  projects:
    ` + testProject + `:
      region: cn-north-4
      kms_keys:
        - {id: ` + keyOff + `, alias: app-data, state: enabled, rotation: false}
        - {id: ` + keyOn + `, state: enabled, rotation: true}
        - {id: ` + keyDefault + `, alias: kms/default, state: enabled, default: true}
        - {id: ` + keyImported + `, state: enabled, origin: external}
        - {id: ` + keyDisabled + `, state: disabled}
        - {id: ` + keyDeleting + `, state: pending_deletion}
`

type fixture struct {
	sim *Simulator
	kms *kms.KmsClient
	url string
}

func setup(t *testing.T) fixture {
	t.Helper()
	seed, err := ParseSeed([]byte(testSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim := New(seed)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return fixture{sim: sim, kms: client(t, srv.URL, DemoAccessKey, DemoSecretKey, testProject), url: srv.URL}
}

// client builds the real Huawei SDK KMS client against url.
func client(t *testing.T, url, ak, sk, project string) *kms.KmsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(project).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := kms.KmsClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(5 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return kms.NewKmsClient(hc)
}

func body(id string) *model.OperateKeyRequestBody { return &model.OperateKeyRequestBody{KeyId: id} }

func (f fixture) rotation(t *testing.T, id string) bool {
	t.Helper()
	r, err := f.kms.ShowKeyRotationStatus(&model.ShowKeyRotationStatusRequest{Body: body(id)})
	if err != nil {
		t.Fatal(err)
	}
	return *r.KeyRotationEnabled
}

func (f fixture) enable(id string) error {
	_, err := f.kms.EnableKeyRotation(&model.EnableKeyRotationRequest{Body: body(id)})
	return err
}

func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a ServiceResponseError %d %s", err, status, code)
	}
	if se.StatusCode != status || se.ErrorCode != code {
		t.Errorf("got %d %s (%s), want %d %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, status, code)
	}
}

func TestEnableRotationThroughSDK(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if f.rotation(t, keyOff) {
		t.Fatal("seeded key should have rotation off")
	}
	if err := f.enable(keyOff); err != nil {
		t.Fatal(err)
	}
	if !f.rotation(t, keyOff) {
		t.Error("rotation still off after enabling")
	}
	wantCode(t, f.enable(keyOff), 400, "KMS.2901")
	if n := f.sim.Writes("kms.enable-key-rotation"); n != 1 {
		t.Errorf("successful writes = %d, want 1", n)
	}
	if n := len(f.sim.Calls()); n != 4 {
		t.Errorf("calls logged = %d, want 4", n)
	}
}

func TestKMSErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct {
		name, key, code string
		status          int
	}{
		{"missing key", keyMissing, "KMS.0207", 404},
		{"malformed key id", "alias/app-data", "KMS.0205", 400},
		{"default key", keyDefault, "KMS.0211", 400},
		{"imported key", keyImported, "KMS.0212", 400},
		{"disabled key", keyDisabled, "KMS.0209", 400},
		{"already on", keyOn, "KMS.2901", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, f.enable(tc.key), tc.status, tc.code)
		})
	}
	if n := f.sim.Writes(""); n != 0 {
		t.Errorf("failed calls counted as writes: %d", n)
	}
}

func TestSignatureIsChecked(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bad := client(t, f.url, DemoAccessKey, "wrong-secret", testProject)
	_, err := bad.EnableKeyRotation(&model.EnableKeyRotationRequest{Body: body(keyOff)})
	wantCode(t, err, 401, "APIGW.0301")
	unknown := client(t, f.url, "SOMEONEELSE", DemoSecretKey, testProject)
	_, err = unknown.EnableKeyRotation(&model.EnableKeyRotationRequest{Body: body(keyOff)})
	wantCode(t, err, 401, "APIGW.0301")
	if key, _ := f.sim.Key(testProject, keyOff); key.Rotation {
		t.Error("an unauthenticated call changed state")
	}
}

func TestUnknownProject(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := client(t, f.url, DemoAccessKey, DemoSecretKey, "ffffffffffffffffffffffffffffffff")
	_, err := other.EnableKeyRotation(&model.EnableKeyRotationRequest{Body: body(keyOff)})
	wantCode(t, err, 403, "APIGW.0305")
}

func TestScriptedThrottleThenSuccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.sim.Inject(Fault{Op: "kms.enable-key-rotation", Count: 2, Status: 429, Code: "APIGW.0308"})
	for range 2 {
		wantCode(t, f.enable(keyOff), 429, "APIGW.0308")
	}
	if err := f.enable(keyOff); err != nil {
		t.Fatalf("third call: %v", err)
	}
	if n := f.sim.Writes("kms.enable-key-rotation"); n != 1 {
		t.Errorf("writes = %d, want 1", n)
	}
}

func TestChaosIsSeeded(t *testing.T) {
	t.Parallel()
	count := func() int {
		f := setup(t)
		f.sim.SetChaos(Chaos{ThrottleRate: 0.3, ServerErrorRate: 0.2, Seed: 7})
		failed := 0
		for range 50 {
			if _, err := f.kms.ShowKeyRotationStatus(&model.ShowKeyRotationStatusRequest{Body: body(keyOn)}); err != nil {
				var se *sdkerr.ServiceResponseError
				if !errors.As(err, &se) || (se.StatusCode != 429 && se.StatusCode < 500) {
					t.Fatalf("unexpected error %v", err)
				}
				failed++
			}
		}
		return failed
	}
	a, b := count(), count()
	if a != b {
		t.Errorf("same seed gave %d and %d failures", a, b)
	}
	if a < 10 || a > 40 {
		t.Errorf("%d of 50 calls failed at a 50%% fault rate", a)
	}
}

func TestDescribeKeyFitsSDKModel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r, err := f.kms.ListKeyDetail(&model.ListKeyDetailRequest{Body: body(keyDefault)})
	if err != nil {
		t.Fatal(err)
	}
	ki := r.KeyInfo
	if ki == nil || *ki.KeyId != keyDefault || *ki.DefaultKeyFlag != "1" || *ki.KeyState != "2" || *ki.KeyRotationEnabled != "false" {
		t.Errorf("key_info = %+v", ki)
	}
}

func TestDisableKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r, err := f.kms.DisableKey(&model.DisableKeyRequest{Body: body(keyOff)})
	if err != nil {
		t.Fatal(err)
	}
	if *r.KeyInfo.KeyState != "3" {
		t.Errorf("key_state = %s, want 3", *r.KeyInfo.KeyState)
	}
	_, err = f.kms.DisableKey(&model.DisableKeyRequest{Body: body(keyOff)})
	wantCode(t, err, 400, "KMS.1301")
	_, err = f.kms.DisableKey(&model.DisableKeyRequest{Body: body(keyDefault)})
	wantCode(t, err, 400, "KMS.0211")
}

// TestCancelKeyDeletion: a key pending deletion becomes disabled, and the
// answer is key_id and key_state at the top level, as the SDK's model
// reads them; cancelling again is refused with KMS.1501, and a missing key
// with KMS.0207. Faults reach the operation like any other.
func TestCancelKeyDeletion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cancel := func(id string) (*model.CancelKeyDeletionResponse, error) {
		return f.kms.CancelKeyDeletion(&model.CancelKeyDeletionRequest{Body: body(id)})
	}
	f.sim.Inject(Fault{Op: "kms.cancel-key-deletion", Status: 429, Code: "APIGW.0308"})
	_, err := cancel(keyDeleting)
	wantCode(t, err, 429, "APIGW.0308")
	r, err := cancel(keyDeleting)
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyId == nil || *r.KeyId != keyDeleting || r.KeyState == nil || *r.KeyState != "3" {
		t.Errorf("response %v, want key %s in state 3", r, keyDeleting)
	}
	_, err = cancel(keyDeleting)
	wantCode(t, err, 400, "KMS.1501")
	_, err = cancel(keyOn)
	wantCode(t, err, 400, "KMS.1501")
	_, err = cancel(keyMissing)
	wantCode(t, err, 404, "KMS.0207")
	if n := f.sim.Writes("kms.cancel-key-deletion"); n != 1 {
		t.Errorf("successful writes = %d, want 1", n)
	}
}

func TestInFlightCallsAreLogged(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.sim.Inject(Fault{Op: "kms.enable-key-rotation", Status: 503, Code: "KMS.0001", Delay: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- f.enable(keyOff) }()
	deadline := time.Now().Add(2 * time.Second)
	for {
		cs := f.sim.Calls()
		if len(cs) == 1 && !cs[0].Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no in-flight call seen: %+v", cs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantCode(t, <-done, 503, "KMS.0001")
	if cs := f.sim.Calls(); !cs[0].Done || cs[0].Status != 503 || cs[0].Code != "KMS.0001" {
		t.Errorf("finished call %+v", cs[0])
	}
}

// TestQuotaThrottlesPastTheRate: a service quota is shared by its APIs in
// one project; past it, calls are throttled until the next second.
func TestQuotaThrottlesPastTheRate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := time.Now().Truncate(time.Second) // a frozen clock (signatures are checked against it)
	f.sim.now = func() time.Time { return now }
	f.sim.SetChaos(Chaos{Quotas: map[string]Quota{"kms": {PerSecond: 3}}})
	status := func() error {
		_, err := f.kms.ShowKeyRotationStatus(&model.ShowKeyRotationStatusRequest{Body: body(keyOn)})
		return err
	}
	if err := status(); err != nil {
		t.Fatal(err)
	}
	if err := f.enable(keyOff); err != nil { // another KMS API: the same quota
		t.Fatal(err)
	}
	if err := status(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, status(), 429, "APIGW.0308")
	now = now.Add(999 * time.Millisecond) // the same second
	wantCode(t, status(), 429, "APIGW.0308")
	now = now.Add(time.Millisecond) // the next one
	if err := status(); err != nil {
		t.Fatalf("in the next second: %v", err)
	}
}
