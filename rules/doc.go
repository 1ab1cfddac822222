// Package rules loads remediation rules from YAML, checks them before they
// run, and evaluates them against decoded events.
//
// A rule file holds a list of rules:
//
//	rules:
//	  - name: huawei-kms-rotation-disabled
//	    description: Turn KMS key rotation back on when someone turns it off.
//	    enabled: true                        # default true
//	    match:
//	      type: "KMS:CloudTrace:ApiCall"     # exact, or a glob with * and ?
//	      source: "HC.KMS"
//	    when: data.trace_name == "disableKeyRotation"   # CEL, must be bool
//	    action: huawei.kms.enable_key_rotation
//	    params:
//	      region: cn-north-4                 # a literal
//	      key_id: {expr: "data.resource_id"} # or a CEL expression
//	    dry_run: false
//
// CEL expressions see two variables: event (the CloudEvent's attributes and
// extensions, map(string, dyn)) and data (the event's JSON data, dyn). They
// are compiled and type-checked at load time and run under a cost limit.
//
// Loading is strict: an unknown key, a wrong type, a duplicate name, an
// unknown action, a missing or malformed parameter or a CEL error is a
// Problem with file:line:column, and every problem in a set is reported at
// once in a *LoadError.
//
// The package knows nothing of cloud SDKs: actions are described to it by a
// Catalog of parameter specifications.
package rules
