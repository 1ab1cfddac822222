package alibaba

import (
	"strings"
	"testing"

	"github.com/remediator/remediator/worker/action"
)

// TestAssumeRole: with a role ARN the provider assumes the role through
// STS once, and the ECS calls run on the role's temporary credentials.
func TestAssumeRole(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Credentials.RoleARN = "acs:ram::" + account + ":role/remediator" })
	if res, err := b.run(t, modify, "cn-hangzhou", approved, false); err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := b.run(t, reset, "cn-beijing", "", false); err != nil {
		t.Fatal(err)
	}
	assumes := 0
	for _, c := range b.sim.Calls() {
		if c.Op == "sts.AssumeRole" {
			assumes++
			if c.Status != 200 {
				t.Errorf("AssumeRole answered %d %s", c.Status, c.Code)
			}
		}
	}
	if assumes != 1 {
		t.Errorf("%d AssumeRole calls, want 1 (the temporary credentials are cached)", assumes)
	}
	if st, _ := b.sim.ECSRegion(account, "cn-hangzhou"); st.DefaultKMSKeyID != approved {
		t.Errorf("default key %q", st.DefaultKMSKeyID)
	}
}

func TestAssumeRoleOfUnknownAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Credentials.RoleARN = "acs:ram::9999999999999999:role/remediator" })
	_, err := b.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Permanent, action.ReasonNotFound)
	if !strings.Contains(err.Error(), "sts.AssumeRole") {
		t.Errorf("error does not name the STS call: %v", err)
	}
	if strings.Contains(err.Error(), "account-secret") {
		t.Error("the secret leaked")
	}
}

// TestInstanceRole: credentials of the ECS instance's RAM role come from
// the metadata service (session token first), are cached, and sign the
// ECS calls.
func TestInstanceRole(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Credentials = Credentials{InstanceRole: "remediator-instance"}
		c.MetadataEndpoint = c.Endpoint
	})
	for range 2 {
		if _, err := b.run(t, modify, "cn-hangzhou", approved, false); err != nil {
			t.Fatal(err)
		}
	}
	fetches := 0
	for _, c := range b.sim.Calls() {
		if c.Op == "metadata.ram-role-credentials" {
			fetches++
		}
	}
	if fetches != 1 {
		t.Errorf("%d metadata fetches, want 1", fetches)
	}
	if st, _ := b.sim.ECSRegion(account, "cn-hangzhou"); st.DefaultKMSKeyID != approved {
		t.Errorf("default key %q", st.DefaultKMSKeyID)
	}
	unreachable := setup(t, func(c *Config) {
		c.Credentials = Credentials{InstanceRole: "remediator-instance"}
		c.MetadataEndpoint = "http://127.0.0.1:1"
	})
	_, err := unreachable.run(t, modify, "cn-hangzhou", approved, false)
	wantErr(t, err, action.Retryable, action.ReasonNoCredentials)
}
