package alibaba

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
	account  = "1234567890123456"
	approved = "key-hzzapproved000000000001"
	rogue    = "key-hzzrogue0000000000001"
	disabled = "key-hzzdisabled00000000001"
)

const seed = `
credentials:
  - {access_key: LTAIACCOUNTKEY00, secret_key: account-secret, account: "1234567890123456"}
  - {access_key: LTAIRAMUSERKEY00, secret_key: ram-secret, account: "1234567890123456", ram_user: true}
alibaba:
  accounts:
    "1234567890123456":
      regions:
        cn-hangzhou:
          encryption_by_default: true
          default_kms_key_id: ` + rogue + `
          kms_keys: [{id: ` + approved + `, state: Enabled}, {id: ` + rogue + `, state: Enabled}, {id: ` + disabled + `, state: Disabled}]
        cn-beijing:
          encryption_by_default: true
          default_kms_key_id: ` + approved + `
          kms_keys: [{id: ` + approved + `, state: Enabled}]
        cn-shenzhen:
          encryption_by_default: true
        cn-wulanchabu:
          encryption_by_default: false
`

type bundle struct {
	sim *cloudsim.Simulator
	p   *Provider
	url string
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
	cfg := Config{Credentials: Credentials{AccessKeyID: "LTAIACCOUNTKEY00", AccessKeySecret: "account-secret"}, Endpoint: srv.URL, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	return bundle{sim: sim, p: New(cfg), url: srv.URL}
}

func (b bundle) run(t *testing.T, name, region, key string, dry bool) (action.Result, error) {
	t.Helper()
	return b.ensure(t, context.Background(), name, region, key, dry)
}

func (b bundle) runCtx(t *testing.T, ctx context.Context, name, region, key string) (action.Result, error) {
	t.Helper()
	return b.ensure(t, ctx, name, region, key, false)
}

func (b bundle) ensure(t *testing.T, ctx context.Context, name, region, key string, dry bool) (action.Result, error) {
	t.Helper()
	for _, a := range b.p.Actions() {
		if a.Name() == name {
			p := map[string]string{"region": region, "account": account}
			if key != "" {
				p["kms_key_id"] = key
			}
			return a.Ensure(ctx, action.Request{Params: p, DryRun: dry})
		}
	}
	t.Fatalf("no action %s", name)
	return action.Result{}, nil
}

const (
	modify = "alibaba.ecs.modify_disk_default_kms_key"
	reset  = "alibaba.ecs.reset_disk_default_kms_key"
)

func wantErr(t *testing.T, err error, class action.Class, reason action.Reason) {
	t.Helper()
	var ae *action.Error
	if !errors.As(err, &ae) || ae.Class != class || ae.Reason != reason {
		t.Fatalf("err = %v, want %s/%s", err, class, reason)
	}
}

func TestECSActions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, action, region, key string
		dry                       bool
		changed, planned          bool
		writes                    int
		after                     string
	}{
		{"modify drifted", modify, "cn-hangzhou", approved, false, true, false, 1, approved},
		{"modify compliant", modify, "cn-beijing", approved, false, false, false, 0, approved},
		{"modify dry run", modify, "cn-hangzhou", approved, true, false, true, 0, rogue},
		{"reset drifted", reset, "cn-hangzhou", "", false, true, false, 1, ""},
		{"reset compliant", reset, "cn-shenzhen", "", false, false, false, 0, ""},
		{"reset dry run", reset, "cn-beijing", "", true, false, true, 0, approved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			res, err := b.run(t, tc.action, tc.region, tc.key, tc.dry)
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed != tc.changed || res.Planned != tc.planned {
				t.Errorf("result %+v", res)
			}
			if n := b.sim.Writes(""); n != tc.writes {
				t.Errorf("writes = %d, want %d", n, tc.writes)
			}
			if st, _ := b.sim.ECSRegion(account, tc.region); st.DefaultKMSKeyID != tc.after {
				t.Errorf("default key %q, want %q", st.DefaultKMSKeyID, tc.after)
			}
		})
	}
}

func TestECSErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.run(t, modify, "cn-wulanchabu", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonEncryptionOff)
	_, err = b.run(t, modify, "cn-hangzhou", disabled, false)
	wantErr(t, err, action.Permanent, action.ReasonKeyNotUsable)
	_, err = b.run(t, modify, "cn-hangzhou", "key-hzznotthere0000000001", false)
	wantErr(t, err, action.Permanent, action.ReasonNotFound)
	_, err = b.run(t, modify, "eu-central-1", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonInvalidParams)
	ram := setup(t, func(c *Config) {
		c.Credentials = Credentials{AccessKeyID: "LTAIRAMUSERKEY00", AccessKeySecret: "ram-secret"}
	})
	_, err = ram.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonPermissionDenied)
	if !strings.Contains(err.Error(), "not a RAM user") {
		t.Errorf("the RAM refusal does not explain itself: %v", err)
	}
	bad := setup(t, func(c *Config) { c.Credentials.AccessKeySecret = "wrong" })
	_, err = bad.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonAuthFailed)
}

// TestErrorTableRows drives every row of the table through the simulator's
// scripted faults and the real SDK.
func TestErrorTableRows(t *testing.T) {
	t.Parallel()
	for code, d := range errorTable {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			status := 403
			if d.class == action.Retryable {
				status = 503
			}
			b.sim.Inject(cloudsim.Fault{Op: "ecs.ModifyDiskDefaultKMSKeyId", Status: status, Code: code, Message: "scripted " + code})
			_, err := b.run(t, modify, "cn-hangzhou", approved, false)
			wantErr(t, err, d.class, d.reason)
		})
	}
}

// TestStatusFallbacks: a code the table does not name is classified by
// its HTTP status (action.ByStatus), through the simulator and the real
// SDK; 401 is auth_failed as for Huawei.
func TestStatusFallbacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		class  action.Class
		reason action.Reason
	}{
		{401, action.Permanent, action.ReasonAuthFailed},
		{403, action.Permanent, action.ReasonPermissionDenied},
		{404, action.Permanent, action.ReasonNotFound},
		{400, action.Permanent, action.ReasonProviderError},
		{429, action.Retryable, action.ReasonThrottled},
		{500, action.Retryable, action.ReasonUnavailable},
		{504, action.Retryable, action.ReasonTimeout},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.sim.Inject(cloudsim.Fault{Op: "ecs.ModifyDiskDefaultKMSKeyId", Status: tc.status, Code: "Unlisted.Code", Message: "scripted"})
			_, err := b.run(t, modify, "cn-hangzhou", approved, false)
			wantErr(t, err, tc.class, tc.reason)
		})
	}
}

func TestThrottledTwiceThenSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sim.Inject(cloudsim.Fault{Op: "ecs.ModifyDiskDefaultKMSKeyId", Count: 2, Status: 400, Code: "Throttling.User"})
	for range 2 {
		_, err := b.run(t, modify, "cn-hangzhou", approved, false)
		wantErr(t, err, action.Retryable, action.ReasonThrottled)
	}
	if res, err := b.run(t, modify, "cn-hangzhou", approved, false); err != nil || !res.Changed {
		t.Fatalf("third try: %+v %v", res, err)
	}
}

func TestTimeoutAndConnectionAreRetryableAndSecretFree(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	b.sim.Inject(cloudsim.Fault{Op: "ecs.DescribeDiskEncryptionByDefaultStatus", Status: 503, Code: "ServiceUnavailable", Delay: time.Second})
	_, err := b.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Retryable, action.ReasonTimeout)
	texts := []string{err.Error()}
	closed := httptest.NewServer(cloudsim.New(cloudsim.Seed{}))
	closed.Close()
	dead := New(Config{Credentials: Credentials{AccessKeyID: "LTAIACCOUNTKEY00", AccessKeySecret: "account-secret"}, Endpoint: closed.URL, Timeout: time.Second})
	_, err = bundle{p: dead}.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Retryable, action.ReasonConnection)
	texts = append(texts, err.Error(), fmt.Sprintf("%+v %#v", err, err), fmt.Sprintf("%v %#v", b.p.cfg.Credentials, b.p.cfg))
	for _, s := range texts {
		for _, leak := range []string{"account-secret", "LTAIACCOUNTKEY00", "Signature="} {
			if strings.Contains(s, leak) {
				t.Errorf("%q leaks %q", s, leak)
			}
		}
	}
}

func TestAccountsWithoutCredentialsMakeNoCall(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Accounts = map[string]Credentials{"6543210987654321": c.Credentials}
		c.Credentials = Credentials{}
	})
	_, err := b.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonNoCredentials)
	if n := len(b.sim.Calls()); n != 0 {
		t.Errorf("%d calls made without credentials", n)
	}
}

func TestKeyIDPattern(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{approved, "0d0466b0-e727-4d9c-b35d-f84bb474a37f"} {
		if !KeyIDPattern.MatchString(ok) {
			t.Errorf("%s rejected", ok)
		}
	}
	for _, bad := range []string{"alias/x", "", "key-", "KEY-ABCDEFGH1"} {
		if KeyIDPattern.MatchString(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
