package huawei

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

const (
	evsProject  = "1c6b8a4d3e9f5c2b0a7d6e5f4b3c2d1e"
	evsOff      = "2d7c9b5e4fa06d3c1b8e7f6a5c4d3e2f"
	evsApproved = "a1b2c3d4-7777-4777-8777-0000000000ee"
	evsRogue    = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	evsDisabled = "5f607182-4444-4444-8444-0000000000bb"
)

const evsSeed = `
huawei:
  projects:
    ` + evsProject + `:
      region: cn-north-4
      kms_keys:
        - {id: ` + evsApproved + `, state: enabled}
        - {id: ` + evsRogue + `, state: enabled}
        - {id: ` + evsDisabled + `, state: disabled}
      evs: {default_encryption: true, default_kms_key_id: ` + evsRogue + `}
    ` + evsOff + `:
      region: cn-east-3
      evs: {default_encryption: false}
`

func evsSetup(t *testing.T, timeout time.Duration) (*cloudsim.Simulator, action.Action) {
	t.Helper()
	s, err := cloudsim.ParseSeed([]byte(evsSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(s)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	p := New(Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey}, Endpoint: srv.URL, Timeout: timeout})
	for _, a := range p.Actions() {
		if a.Name() == "huawei.evs.update_default_kms_key" {
			return sim, a
		}
	}
	t.Fatal("no EVS action")
	return nil, nil
}

func evsParams(project, key string) map[string]string {
	return map[string]string{"region": "cn-north-4", "project_id": project, "kms_key_id": key}
}

func TestEVSDefaultKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		project string
		key     string
		dry     bool
		reason  action.Reason
		changed bool
		writes  int
	}{
		{"drifted", evsProject, evsApproved, false, "", true, 1},
		{"compliant", evsProject, evsRogue, false, "", false, 0},
		{"dry run", evsProject, evsApproved, true, "", false, 0},
		{"encryption off", evsOff, evsApproved, false, action.ReasonEncryptionOff, false, 0},
		{"disabled key", evsProject, evsDisabled, false, action.ReasonKeyNotUsable, false, 0},
		{"unknown key", evsProject, "9f9f9f9f-dead-4bee-8fee-000000000000", false, action.ReasonNotFound, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, a := evsSetup(t, 2*time.Second)
			res, err := a.Ensure(context.Background(), action.Request{Params: evsParams(tc.project, tc.key), DryRun: tc.dry})
			if tc.reason != "" {
				wantErr(t, err, action.Permanent, tc.reason)
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Changed != tc.changed || res.Planned != tc.dry {
				t.Errorf("result %+v", res)
			}
			if n := sim.Writes("evs.update-default-key"); n != tc.writes {
				t.Errorf("writes %d, want %d", n, tc.writes)
			}
			if tc.changed {
				if st, _ := sim.EVS(tc.project); st.DefaultKMSKeyID != tc.key {
					t.Errorf("EVS default key %q after the update", st.DefaultKMSKeyID)
				}
			}
		})
	}
}

func TestEVSFaults(t *testing.T) {
	t.Parallel()
	sim, a := evsSetup(t, 200*time.Millisecond)
	sim.Inject(cloudsim.Fault{Op: "evs.update-default-key", Count: 2, Status: 429, Code: "APIGW.0308"})
	for range 2 {
		_, err := a.Ensure(context.Background(), action.Request{Params: evsParams(evsProject, evsApproved)})
		wantErr(t, err, action.Retryable, action.ReasonThrottled)
	}
	sim.Inject(cloudsim.Fault{Op: "evs.get-default-key", Status: 500, Code: "EVS.9999", Message: "internal"})
	_, err := a.Ensure(context.Background(), action.Request{Params: evsParams(evsProject, evsApproved)})
	wantErr(t, err, action.Retryable, action.ReasonUnavailable)
	sim.Inject(cloudsim.Fault{Op: "evs.get-default-encryption-status", Status: 503, Code: "EVS.9998", Delay: time.Second})
	_, err = a.Ensure(context.Background(), action.Request{Params: evsParams(evsProject, evsApproved)})
	wantErr(t, err, action.Retryable, action.ReasonTimeout)
	if res, err := a.Ensure(context.Background(), action.Request{Params: evsParams(evsProject, evsApproved)}); err != nil || !res.Changed {
		t.Fatalf("after the faults: %+v %v", res, err)
	}
	if n := sim.Writes("evs.update-default-key"); n != 1 {
		t.Errorf("writes %d, want 1", n)
	}
}
