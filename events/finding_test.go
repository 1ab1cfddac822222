package events

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) *Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(context.Background(), nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestNormalizeFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file                                   string
		form, provider, account, region, drift string
		resource                               string
	}{
		{"01-huawei-cts-rotation-disabled.json", "cts", "huawei", "5f1e2d3c4b5a69788796a5b4c3d2e1f0", "cn-north-4", DriftKeyRotationDisabled, "0d0466b0-e727-4d9c-b35d-f84bb474a37f"},
		{"04-huawei-cts-rotation-disable-failed.json", "cts", "huawei", "5f1e2d3c4b5a69788796a5b4c3d2e1f0", "cn-north-4", "", "1a2b3c4d-0000-4000-8000-00000000abcd"},
		{"03-finding-kms-rotation-disabled.json", "finding", "huawei", "5f1e2d3c4b5a69788796a5b4c3d2e1f0", "cn-north-4", DriftKeyRotationDisabled, "2c3d4e5f-1111-4111-8111-00000000beef"},
		{"10-alibaba-actiontrail-modify-default-key.json", "actiontrail", "alibaba", "1234567890123456", "cn-hangzhou", DriftDefaultDiskKey, "1234567890123456/cn-hangzhou"},
		{"16-alibaba-config-noncompliant.json", "config", "alibaba", "1234567890123456", "cn-hangzhou", DriftConfigNonCompliant, "d-bp1234567890abcdef"},
		{"17-alibaba-config-noncompliant-annotation-object.json", "config", "alibaba", "1234567890123456", "cn-hangzhou", DriftConfigNonCompliant, "d-bp1234567890abcdef"},
		{"18-alibaba-actiontrail-failed-call.json", "actiontrail", "alibaba", "1234567890123456", "cn-hangzhou", "", "1234567890123456/cn-hangzhou"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			f, err := (Normalizer{}).Normalize(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{f.Form, f.Provider, f.Account, f.Region, f.Drift, f.ResourceID}
			want := []string{tc.form, tc.provider, tc.account, tc.region, tc.drift, tc.resource}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("finding %v\nwant    %v", got, want)
			}
		})
	}
}

func TestNormalizeSelf(t *testing.T) {
	t.Parallel()
	env := fixture(t, "10-alibaba-actiontrail-modify-default-key.json")
	f, err := (Normalizer{SelfPrincipals: []string{"209876543210987654"}}).Normalize(env)
	if err != nil || !f.Self || f.Actor.Name != "dev-bob" || f.Actor.Type != "ram-user" {
		t.Errorf("finding %+v err %v, want self", f, err)
	}
	f, _ = (Normalizer{SelfPrincipals: []string{"someone-else"}}).Normalize(env)
	if f.Self {
		t.Error("another principal's change marked self")
	}
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	ev := func(typ, source, data string) *Envelope {
		env, err := Decode(context.Background(), nil, []byte(`{"specversion":"1.0","id":"1","source":"`+source+`","type":"`+typ+`","data":`+data+`}`))
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	cases := []struct {
		name string
		env  *Envelope
		want string
	}{
		{"cts without region", ev("KMS:CloudTrace:ApiCall", "HC.KMS", `{"trace_name":"disableKeyRotation","project_id":"p"}`), "the project or region is missing"},
		{"cts data not an object", ev("KMS:CloudTrace:ApiCall", "HC.KMS", `"text"`), "data is a string, not a JSON object"},
		{"actiontrail user not an object", ev("ecs:ActionTrail:ApiCall", "acs.ecs", `{"userIdentity":[1]}`), "userIdentity is an array, want an object"},
		{"actiontrail without account", ev("ecs:ActionTrail:ApiCall", "acs.ecs", `{"eventName":"ModifyDiskDefaultKMSKeyId","acsRegion":"cn-hangzhou"}`), "the account or region is missing"},
		{"config wrong type", ev("config:Config:NonCompliantNotification", "acs.config", `{"evaluationResultIdentifier":{"evaluationResultQualifier":{"regionId":true}}}`), "regionId is a boolean"},
		{"finding unknown provider", ev("remediator.finding.kms.key_rotation_disabled", "s", `{"provider":"aws","region":"us-east-1"}`), `provider "aws" is not alibaba or huawei`},
		{"finding without region", ev("remediator.finding.kms.key_rotation_disabled", "s", `{"provider":"huawei"}`), "region is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := (Normalizer{}).Normalize(tc.env)
			var inv *InvalidError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want an InvalidError containing %q", err, tc.want)
			}
		})
	}
	if f, err := (Normalizer{}).Normalize(ev("com.example.other", "x", `{}`)); f != nil || err != nil {
		t.Errorf("unknown form: %+v %v, want nil, nil", f, err)
	}
	f, err := (Normalizer{}).Normalize(ev("KMS:CloudTrace:ApiCall", "HC.KMS", `{"trace_name":"createKey","project_id":"p","region_id":"r","code":200}`))
	if err != nil || f.Drift != "" || !strings.Contains(f.Detail, "createKey") {
		t.Errorf("unknown trace name: %+v %v, want no drift", f, err)
	}
}

// TestActionTrailForms: ecs: and ebs: sources, every identity type, and the
// odd publish-time spelling are all read.
func TestActionTrailForms(t *testing.T) {
	t.Parallel()
	base := fixture(t, "10-alibaba-actiontrail-modify-default-key.json")
	raw, err := json.Marshal(base.Event)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ typ, source, identity string }{
		{"ecs:ActionTrail:ApiCall", "acs.ecs", "root-account"},
		{"ebs:ActionTrail:ApiCall", "acs.ebs", "ram-user"},
		{"ebs:ActionTrail:ApiCall", "acs.ebs", "assumed-role"},
		{"ecs:ActionTrail:ApiCall", "acs.ecs", "system"},
	} {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		m["type"], m["source"], m["aliyunpublishtime"] = tc.typ, tc.source, "2026-11-20T10:11:13.179PRC"
		m["data"].(map[string]any)["userIdentity"].(map[string]any)["type"] = tc.identity
		b, _ := json.Marshal(m)
		env, err := Decode(context.Background(), nil, b)
		if err != nil {
			t.Fatal(err)
		}
		f, err := (Normalizer{}).Normalize(env)
		if err != nil || f.Form != "actiontrail" || f.Drift != DriftDefaultDiskKey || f.Actor.Type != tc.identity {
			t.Errorf("%s %s: %+v %v", tc.typ, tc.identity, f, err)
		}
	}
}
