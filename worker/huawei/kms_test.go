package huawei

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

const (
	project     = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"
	domain      = "5f1e2d3c4b5a69788796a5b4c3d2e1f0"
	keyOff      = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	keyOn       = "1a2b3c4d-0000-4000-8000-00000000abcd"
	keyDefault  = "3d4e5f60-2222-4222-8222-000000000def"
	keyImported = "4e5f6071-3333-4333-8333-0000000000aa"
	keyRSA      = "6a7b8c9d-5555-4555-8555-0000000000cc"
	keyOffState = "5f607182-4444-4444-8444-0000000000bb"
	keyDeleting = "7b8c9d0e-6666-4666-8666-0000000000dd"
	keyMissing  = "9f9f9f9f-dead-4bee-8fee-000000000000"
)

const seed = `
huawei:
  projects:
    ` + project + `:
      region: cn-north-4
      kms_keys:
        - {id: ` + keyOff + `, state: enabled, rotation: false}
        - {id: ` + keyOn + `, state: enabled, rotation: true}
        - {id: ` + keyDefault + `, alias: kms/default, state: enabled, default: true}
        - {id: ` + keyImported + `, state: enabled, origin: external}
        - {id: ` + keyRSA + `, state: enabled, spec: RSA_2048}
        - {id: ` + keyOffState + `, state: disabled}
        - {id: ` + keyDeleting + `, state: pending_deletion}
`

type bundle struct {
	sim *cloudsim.Simulator
	p   *Provider
}

func setup(t *testing.T, mod func(*Config)) bundle {
	t.Helper()
	s, err := cloudsim.ParseSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(s)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	return bundle{sim: sim, p: New(cfg)}
}

func params(key string) map[string]string {
	return map[string]string{"region": "cn-north-4", "project_id": project, "key_id": key,
		"allowed_key_ids": keyOff + "," + keyOn + "," + keyDefault + "," + keyOffState + "," + keyDeleting + "," + keyMissing}
}

func wantErr(t *testing.T, err error, class action.Class, reason action.Reason) {
	t.Helper()
	var ae *action.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want %s/%s", err, class, reason)
	}
	if ae.Class != class || ae.Reason != reason {
		t.Errorf("got %s/%s (%v), want %s/%s", ae.Class, ae.Reason, ae, class, reason)
	}
}

func TestKMSActions(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		changed outcome = iota
		compliant
		planned
		failed
	)
	cases := []struct {
		name   string
		action string
		key    string
		dry    bool
		want   outcome
		reason action.Reason
		writes int
	}{
		{"rotation drifted", "huawei.kms.enable_key_rotation", keyOff, false, changed, "", 1},
		{"rotation compliant", "huawei.kms.enable_key_rotation", keyOn, false, compliant, "", 0},
		{"rotation dry run", "huawei.kms.enable_key_rotation", keyOff, true, planned, "", 0},
		{"rotation default key", "huawei.kms.enable_key_rotation", keyDefault, false, failed, action.ReasonNotRotatable, 0},
		{"rotation imported key", "huawei.kms.enable_key_rotation", keyImported, false, failed, action.ReasonNotRotatable, 0},
		{"rotation asymmetric key", "huawei.kms.enable_key_rotation", keyRSA, false, failed, action.ReasonNotRotatable, 0},
		{"rotation disabled key", "huawei.kms.enable_key_rotation", keyOffState, false, failed, action.ReasonKeyNotUsable, 0},
		{"rotation missing key", "huawei.kms.enable_key_rotation", keyMissing, false, failed, action.ReasonNotFound, 0},
		{"disable drifted", "huawei.kms.disable_key", keyOff, false, changed, "", 1},
		{"disable compliant", "huawei.kms.disable_key", keyOffState, false, compliant, "", 0},
		{"disable dry run", "huawei.kms.disable_key", keyOn, true, planned, "", 0},
		{"disable default key", "huawei.kms.disable_key", keyDefault, false, failed, action.ReasonRefused, 0},
		{"disable pending deletion", "huawei.kms.disable_key", keyDeleting, false, failed, action.ReasonRefused, 0},
		{"disable not allowed", "huawei.kms.disable_key", keyImported, false, failed, action.ReasonRefused, 0},
		{"disable missing key", "huawei.kms.disable_key", keyMissing, false, failed, action.ReasonNotFound, 0},
		{"cancel deletion drifted", "huawei.kms.cancel_key_deletion", keyDeleting, false, changed, "", 1},
		{"cancel deletion compliant enabled", "huawei.kms.cancel_key_deletion", keyOn, false, compliant, "", 0},
		{"cancel deletion compliant disabled", "huawei.kms.cancel_key_deletion", keyOffState, false, compliant, "", 0},
		{"cancel deletion dry run", "huawei.kms.cancel_key_deletion", keyDeleting, true, planned, "", 0},
		{"cancel deletion missing key", "huawei.kms.cancel_key_deletion", keyMissing, false, failed, action.ReasonNotFound, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			a := findAction(t, b.p, tc.action)
			res, err := a.Ensure(context.Background(), action.Request{Params: params(tc.key), DryRun: tc.dry})
			switch tc.want {
			case failed:
				wantErr(t, err, action.Permanent, tc.reason)
			default:
				if err != nil {
					t.Fatal(err)
				}
				if res.Changed != (tc.want == changed) || res.Planned != (tc.want == planned) {
					t.Errorf("result %+v", res)
				}
			}
			if n := b.sim.Writes(""); n != tc.writes {
				t.Errorf("writes = %d, want %d", n, tc.writes)
			}
			for _, c := range b.sim.Calls() {
				if c.Write && tc.want != changed {
					t.Errorf("a write call was attempted: %+v", c)
				}
			}
		})
	}
}

func TestDisableKeyNotAllowedMakesNoCall(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := params(keyImported)
	_, err := findAction(t, b.p, "huawei.kms.disable_key").Ensure(context.Background(), action.Request{Params: p})
	wantErr(t, err, action.Permanent, action.ReasonRefused)
	if n := len(b.sim.Calls()); n != 0 {
		t.Errorf("%d calls made for a key the rule does not allow", n)
	}
}

func TestThrottledWriteIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sim.Inject(cloudsim.Fault{Op: "kms.disable-key", Status: 429, Code: "APIGW.0308"})
	_, err := findAction(t, b.p, "huawei.kms.disable_key").Ensure(context.Background(), action.Request{Params: params(keyOff)})
	wantErr(t, err, action.Retryable, action.ReasonThrottled)
	if _, err := findAction(t, b.p, "huawei.kms.disable_key").Ensure(context.Background(), action.Request{Params: params(keyOff)}); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	b.sim.Inject(cloudsim.Fault{Op: "kms.describe-key", Status: 503, Code: "KMS.0001", Delay: time.Second})
	_, err := findAction(t, b.p, "huawei.kms.enable_key_rotation").Ensure(context.Background(), action.Request{Params: params(keyOff)})
	wantErr(t, err, action.Retryable, action.ReasonTimeout)
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	creds := Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey}
	b := setup(t, func(c *Config) { c.Credentials = Credentials{}; c.Accounts = map[string]Credentials{domain: creds} })
	a := findAction(t, b.p, "huawei.kms.enable_key_rotation")
	p := params(keyOff)
	p["account"] = "00000000000000000000000000000000"
	_, err := a.Ensure(context.Background(), action.Request{Params: p})
	wantErr(t, err, action.Permanent, action.ReasonNoCredentials)
	if n := len(b.sim.Calls()); n != 0 {
		t.Fatalf("%d calls made without credentials", n)
	}
	p["account"] = domain
	if _, err := a.Ensure(context.Background(), action.Request{Params: p}); err != nil {
		t.Fatalf("configured account: %v", err)
	}
	none := setup(t, func(c *Config) { c.Credentials = Credentials{} })
	_, err = findAction(t, none.p, "huawei.kms.enable_key_rotation").Ensure(context.Background(), action.Request{Params: params(keyOff)})
	wantErr(t, err, action.Permanent, action.ReasonNoCredentials)
}

// TestSecretsNeverInErrors runs every failure path with a recognisable
// secret and checks no error text carries it.
func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	const secret = "S3CR3T-value-that-must-not-leak"
	b := setup(t, func(c *Config) {
		c.Credentials = Credentials{AccessKey: "AKLEAKCHECK00000", SecretKey: secret, SecurityToken: "TOKEN-must-not-leak"}
	})
	var texts []string
	for _, name := range []string{"huawei.kms.enable_key_rotation", "huawei.kms.disable_key"} {
		_, err := findAction(t, b.p, name).Ensure(context.Background(), action.Request{Params: params(keyOff)})
		if err == nil {
			t.Fatal("a wrong secret must fail")
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	}
	closed := httptest.NewServer(cloudsim.New(cloudsim.Seed{}))
	closed.Close()
	dead := New(Config{Credentials: Credentials{AccessKey: "AKLEAKCHECK00000", SecretKey: secret}, Endpoint: closed.URL, Timeout: time.Second})
	_, err := findAction(t, dead, "huawei.kms.enable_key_rotation").Ensure(context.Background(), action.Request{Params: params(keyOff)})
	wantErr(t, err, action.Retryable, action.ReasonConnection)
	texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v", b.p.cfg.Credentials, b.p.cfg.Credentials, b.p.cfg))
	for _, s := range texts {
		for _, leak := range []string{secret, "TOKEN-must-not-leak"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q leaks a secret", s)
			}
		}
	}
}

func findAction(t *testing.T, p *Provider, name string) action.Action {
	t.Helper()
	for _, a := range p.Actions() {
		if a.Name() == name {
			return a
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}

// TestRateLimiterPacesCalls: with a bucket that refills once in ~17
// minutes, the second call to the same API waits, and the context ends it.
func TestRateLimiterPacesCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Limiter = action.NewRateLimiter(action.Rates{"*": {PerSecond: 0.001, Burst: 1}}) })
	ctx, cancel := context.WithTimeout(action.WithRateScope(context.Background(), "huawei", "", "cn-north-4"), 300*time.Millisecond)
	defer cancel()
	_, err := findAction(t, b.p, "huawei.kms.enable_key_rotation").Ensure(ctx, action.Request{Params: params(keyOff)})
	wantErr(t, err, action.Retryable, action.ReasonTimeout)
	if n := len(b.sim.Calls()); n != 3 {
		t.Errorf("%d calls, want 3 (describe, status, enable; the second status read waits for a token)", n)
	}
}

// TestCancelKeyDeletion: the key reads back disabled; a write the API
// refuses for want of permission is permanent and changes nothing; a
// deletion cancelled by someone else between the read and the write
// (KMS.1501) counts as done, not as a change.
func TestCancelKeyDeletion(t *testing.T) {
	t.Parallel()
	const name = "huawei.kms.cancel_key_deletion"
	t.Run("reads back disabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res, err := b.action(t, name).Ensure(context.Background(), action.Request{Params: params(keyDeleting)})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.Before != "key pending deletion" || res.After != "key disabled" {
			t.Errorf("result %+v", res)
		}
		if k, _ := b.sim.Key(project, keyDeleting); k.State != "3" {
			t.Errorf("simulator key_state = %s, want 3", k.State)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.sim.Inject(cloudsim.Fault{Op: "kms.cancel-key-deletion", Status: 403, Code: "KMS.0306", Message: "No permission."})
		_, err := b.action(t, name).Ensure(context.Background(), action.Request{Params: params(keyDeleting)})
		wantErr(t, err, action.Permanent, action.ReasonPermissionDenied)
		if k, _ := b.sim.Key(project, keyDeleting); k.State != "4" {
			t.Errorf("simulator key_state = %s after a refused write, want 4", k.State)
		}
	})
	t.Run("cancelled meanwhile", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		a := b.action(t, name)
		// The fence runs right before the write: another worker cancels first.
		ctx := action.WithFence(context.Background(), func(context.Context) error {
			_, err := a.Ensure(context.Background(), action.Request{Params: params(keyDeleting)})
			return err
		})
		res, err := a.Ensure(ctx, action.Request{Params: params(keyDeleting)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed || res.After != "key disabled" {
			t.Errorf("result %+v, want not changed, key disabled", res)
		}
		var refused int
		for _, c := range b.sim.Calls() {
			if c.Op == "kms.cancel-key-deletion" && c.Code == "KMS.1501" {
				refused++
			}
		}
		if n := b.sim.Writes("kms.cancel-key-deletion"); n != 1 || refused != 1 {
			t.Errorf("%d writes and %d KMS.1501 answers, want 1 and 1", n, refused)
		}
	})
}
