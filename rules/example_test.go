package rules_test

import (
	"context"
	"fmt"
	"regexp"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
)

// A catalog describes the actions rules may call; the worker's action
// registry is one. Here a single action with one configuration parameter.
var catalog = rules.CatalogMap{
	"alibaba.ecs.modify_disk_default_kms_key": {
		{Name: "account", Type: rules.String},
		{Name: "region", Type: rules.String, Required: true, Resource: true},
		{Name: "kms_key_id", Type: rules.String, Required: true, Literal: true, Pattern: regexp.MustCompile(`^key-[a-z0-9]+$`)},
	},
}

const ruleFile = `
policy:
  approved_keys:
    "1234567890123456": {cn-hangzhou: key-approved1, cn-beijing: key-approved2}
rules:
  - name: default-disk-key
    match: {type: remediator.finding.disk.default_key_drifted}
    when: data.provider == "alibaba"
    action: alibaba.ecs.modify_disk_default_kms_key
    exempt: {resources: [cn-beijing]}
    params:
      account: {expr: data.account}
      region: {expr: data.region}
      kms_key_id: {policy: "policy.approved_keys[data.account][data.region]"}
`

func Example() {
	set, err := rules.Parse(catalog, "example.yaml", []byte(ruleFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, region := range []string{"cn-hangzhou", "cn-beijing", "eu-central-1"} {
		body := `{"specversion":"1.0","id":"1","source":"scanner","type":"remediator.finding.disk.default_key_drifted",
			"data":{"provider":"alibaba","account":"1234567890123456","region":"` + region + `"}}`
		env, _ := events.Decode(context.Background(), nil, []byte(body))
		for _, m := range set.Evaluate(env) {
			if m.Skip != "" {
				fmt.Printf("%s: %s\n", region, m.Skip)
				continue
			}
			fmt.Printf("%s: %s key=%s\n", region, m.Rule.Action, m.Params["kms_key_id"])
		}
	}
	// Output:
	// cn-hangzhou: alibaba.ecs.modify_disk_default_kms_key key=key-approved1
	// cn-beijing: exempt
	// eu-central-1: out_of_scope
}

// Loading reports every problem at once, with file, line and column.
func ExampleLoadError() {
	_, err := rules.Parse(catalog, "bad.yaml", []byte(`rules:
  - name: r
    match: {type: t}
    action: alibaba.ecs.modify_disk_default_kms_key
    params: {region: cn-hangzhou, kms_key_id: {expr: data.key}}
    whne: true
`))
	fmt.Println(err)
	// Output:
	// bad.yaml:5:54: rules[r].params.kms_key_id: must be a literal or a {policy: ...} lookup: it is configuration, never event data
	// bad.yaml:6:5: rules[r].whne: unknown field
}
