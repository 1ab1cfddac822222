package rules

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Approval is a rule's demand for a human decision before its action
// writes: Approvers distinct people must approve within TTL.
type Approval struct {
	Approvers int
	TTL       time.Duration
}

// Approval defaults and bounds.
const (
	DefaultApprovers   = 1
	MaxApprovers       = 10
	DefaultApprovalTTL = 24 * time.Hour
	MaxApprovalTTL     = 30 * 24 * time.Hour
)

// ApprovalWaivedKey is the policy key listing rules whose approval is
// waived: the way to run a built-in rule that requires approval without it.
const ApprovalWaivedKey = "approval_waived"

// approvalSpec is a rule's approval block as written.
type approvalSpec struct {
	node      *yaml.Node
	required  bool
	approvers int
	ttl       time.Duration
}

func (p *parser) approval(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "approval", "must be a mapping, like {required: true, approvers: 1, ttl: 24h}")
		return
	}
	a := &approvalSpec{node: n, approvers: DefaultApprovers, ttl: DefaultApprovalTTL}
	p.fields(n, s.name, "approval.", map[string]func(k, v *yaml.Node){
		"required": func(_, v *yaml.Node) { a.required = p.boolean(v, s.name, "approval.required", false) },
		"approvers": func(_, v *yaml.Node) {
			if !p.scalar(v, s.name, "approval.approvers", "!!int") {
				return
			}
			if err := v.Decode(&a.approvers); err != nil || a.approvers < 1 || a.approvers > MaxApprovers {
				p.add(v, s.name, "approval.approvers", "must be a number from 1 to %d", MaxApprovers)
				a.approvers = DefaultApprovers
			}
		},
		"ttl": func(_, v *yaml.Node) {
			if !p.scalar(v, s.name, "approval.ttl", "!!str") {
				return
			}
			d, err := time.ParseDuration(v.Value)
			if err != nil || d < time.Second || d > MaxApprovalTTL {
				p.add(v, s.name, "approval.ttl", "must be a duration from 1s to 720h (30 days), like 30m or 24h")
				return
			}
			a.ttl = d
		},
	})
	s.approval = a
}

// compiled is the rule's Approval: nil when none is required.
func (a *approvalSpec) compiled() *Approval {
	if a == nil || !a.required {
		return nil
	}
	return &Approval{Approvers: a.approvers, TTL: a.ttl}
}

// waive applies the policy's approval_waived list: each rule named there
// runs without approval. A name that is not a rule requiring approval is
// a problem (a typo would leave the approval on).
func (c *compiler) waive(all []*Rule, parts []policyPart) {
	var key *yaml.Node
	var file string
	for _, pp := range parts {
		if pp.key.Value == ApprovalWaivedKey {
			key, file = pp.key, pp.file
		}
	}
	if key == nil {
		return
	}
	list, ok := c.policy[ApprovalWaivedKey].([]any)
	if !ok {
		c.add(file, key, "", "policy."+ApprovalWaivedKey, "must be a list of rule names")
		return
	}
	byName := map[string]*Rule{}
	for _, r := range all {
		byName[r.Name] = r
	}
	for _, v := range list {
		name, _ := v.(string)
		r := byName[name]
		if r == nil || r.Approval == nil {
			c.add(file, key, "", "policy."+ApprovalWaivedKey, "%s", fmt.Sprintf("%v is not a rule that requires approval", v))
			continue
		}
		r.Approval = nil
	}
}
