package huawei

import (
	"context"
	"testing"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestAgency: an account configured with an agency is reached through
// temporary credentials from IAM, fetched once and reused.
func TestAgency(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Accounts = map[string]Credentials{domain: {AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey, Agency: "remediator"}}
		c.Credentials = Credentials{}
	})
	for _, name := range []string{"huawei.kms.enable_key_rotation", "huawei.kms.disable_key"} {
		p := params(keyOff)
		p["account"] = domain
		if _, err := findAction(t, b.p, name).Ensure(context.Background(), action.Request{Params: p}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	tokens := 0
	for _, c := range b.sim.Calls() {
		if c.Op == "iam.create-temporary-access-key-by-agency" {
			tokens++
			if c.Status != 201 || c.Params["agency_name"] != "remediator" || c.Params["domain_id"] != domain {
				t.Errorf("IAM call %+v", c)
			}
		} else if c.Status/100 != 2 {
			t.Errorf("call with the agency's credentials failed: %+v", c)
		}
	}
	if tokens != 1 {
		t.Errorf("%d IAM calls, want 1 (temporary credentials are cached)", tokens)
	}
	if k, _ := b.sim.Key(project, keyOff); !k.Rotation || k.State != "3" {
		t.Errorf("key %+v: rotation on and disabled expected", k)
	}
}

func TestAgencyRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Accounts = map[string]Credentials{domain: {AccessKey: cloudsim.DemoAccessKey, SecretKey: "wrong", Agency: "remediator"}}
	})
	p := params(keyOff)
	p["account"] = domain
	_, err := findAction(t, b.p, "huawei.kms.enable_key_rotation").Ensure(context.Background(), action.Request{Params: p})
	wantErr(t, err, action.Permanent, action.ReasonAuthFailed)
}
