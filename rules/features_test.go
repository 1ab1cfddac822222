package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const policyRules = `
policy:
  approved_keys:
    "1234567890123456":
      cn-hangzhou: key-approved-1
      cn-beijing: key-approved-2
rules:
  - name: ali
    match: {type: finding}
    action: alibaba.ecs.modify_disk_default_kms_key
    scope:
      accounts: ["1234567890123456"]
    exempt:
      resources: [cn-beijing]
      when: has(data.ticket) && data.ticket == "CHG-1"
    limits: {writes: 5, per: 10m}
    params:
      account: {expr: data.account}
      region: {expr: data.region}
      kms_key_id: {policy: "policy.approved_keys[data.account][data.region]"}
`

func finding(account, region, extra string) string {
	return `{"specversion":"1.0","id":"1","source":"s","type":"finding","data":{"account":"` + account + `","region":"` + region + `"` + extra + `}}`
}

func TestPolicyScopeExempt(t *testing.T) {
	t.Parallel()
	set, err := Parse(testCatalog, "p.yaml", []byte(policyRules))
	if err != nil {
		t.Fatal(err)
	}
	if l := set.Rules()[0].Limit; l == nil || l.Writes != 5 || l.Per != 10*time.Minute {
		t.Errorf("limit = %+v", l)
	}
	cases := []struct {
		name, body string
		skip       Skip
		key        string
	}{
		{"approved key from policy", finding("1234567890123456", "cn-hangzhou", ""), "", "key-approved-1"},
		{"region without policy", finding("1234567890123456", "eu-central-1", ""), OutOfScope, ""},
		{"account outside scope", finding("9999999999999999", "cn-hangzhou", ""), OutOfScope, ""},
		{"exempt resource", finding("1234567890123456", "cn-beijing", ""), Exempt, ""},
		{"exempt by condition", finding("1234567890123456", "cn-hangzhou", `,"ticket":"CHG-1"`), Exempt, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := set.Evaluate(decode(t, tc.body))
			if len(ms) != 1 || ms[0].Err != nil {
				t.Fatalf("matches %+v", ms)
			}
			if ms[0].Skip != tc.skip {
				t.Errorf("skip = %q (%s), want %q", ms[0].Skip, ms[0].SkipReason, tc.skip)
			}
			if tc.key != "" && ms[0].Params["kms_key_id"] != tc.key {
				t.Errorf("kms_key_id = %q, want %q", ms[0].Params["kms_key_id"], tc.key)
			}
		})
	}
}

func TestMatchAttributes(t *testing.T) {
	t.Parallel()
	src := `rules:
  - name: r
    match: {type: t, attributes: {subject: "acs.ecs:cn-*", aliyunregionid: cn-hangzhou}}
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
`
	set, err := Parse(testCatalog, "f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ev := func(subject, region string) string {
		return `{"specversion":"1.0","id":"1","source":"s","type":"t","subject":"` + subject + `","aliyunregionid":"` + region + `"}`
	}
	if n := len(set.Evaluate(decode(t, ev("acs.ecs:cn-hangzhou:1:d", "cn-hangzhou")))); n != 1 {
		t.Errorf("matching attributes: %d matches", n)
	}
	if n := len(set.Evaluate(decode(t, ev("acs.ecs:cn-hangzhou:1:d", "cn-beijing")))); n != 0 {
		t.Errorf("wrong extension: %d matches", n)
	}
	if n := len(set.Evaluate(decode(t, ev("acs.ebs:cn-hangzhou", "cn-hangzhou")))); n != 0 {
		t.Errorf("wrong subject: %d matches", n)
	}
}

func TestPolicyProblems(t *testing.T) {
	t.Parallel()
	head := "rules:\n  - name: r\n    match: {type: t}\n    action: alibaba.ecs.modify_disk_default_kms_key\n"
	cases := []struct{ name, src, want string }{
		{"lookup not rooted at policy", head + "    params: {region: r, kms_key_id: {policy: data.key}}\n",
			"rules[r].params.kms_key_id.policy: must be a lookup in policy"},
		{"static lookup missing", "policy: {keys: {a: k1}}\n" + head + "    params: {region: r, kms_key_id: {policy: policy.keys.b}}\n",
			"rules[r].params.kms_key_id.policy: does not resolve: no such key: b"},
		{"scope param missing", strings.Replace(head, "alibaba.ecs.modify_disk_default_kms_key", "test.noresource", 1) +
			"    params: {region: r}\n    scope: {accounts: [a]}\n",
			"rules[r].scope.accounts: action test.noresource has no account parameter to scope by"},
		{"exempt without resource", strings.Replace(head, "alibaba.ecs.modify_disk_default_kms_key", "test.noresource", 1) +
			"    params: {region: r}\n    exempt: {resources: [x]}\n",
			"rules[r].exempt.resources: action test.noresource declares no resource parameter"},
		{"bad limits", head + "    params: {region: r, kms_key_id: k}\n    limits: {writes: 0, per: soon}\n",
			"rules[r].limits.per: must be a duration of at least 1s"},
		{"policy not a mapping", "policy: [1]\n" + head + "    params: {region: r, kms_key_id: k}\n", "policy: must be a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(testCatalog, "f.yaml", []byte(tc.src))
			var le *LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err =\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestPolicyDefinedTwice(t *testing.T) {
	t.Parallel()
	a := []byte("policy: {keys: {a: k}}\nrules:\n  - name: r\n    match: {type: t}\n    action: alibaba.ecs.modify_disk_default_kms_key\n    params: {region: r, kms_key_id: k}\n")
	b := []byte("policy: {keys: {b: k}}\n")
	_, err := DefaultLimits().compileSources(testCatalog, map[string][]byte{"a.yaml": a, "b.yaml": b})
	if err == nil || !strings.Contains(err.Error(), "b.yaml:1:10: policy.keys: defined twice (first at a.yaml:1)") {
		t.Errorf("err = %v", err)
	}
}
