// Package approval keeps the plans of actions that wait for people to
// approve them, in a JetStream key-value bucket (REMEDIATION_APPROVALS):
// one plan per rule and resource, changed only by compare-and-set on its
// revision, so two replicas or two approvers never both win one change.
package approval

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"time"
)

// State is where a plan stands.
type State string

// States. A plan is pending until enough people approve it (approved),
// one denies it (denied) or its TTL ends (expired); an approved plan
// becomes executed once a worker ran it. Closed says a worker has settled
// a denied or expired plan (recorded its outcome).
const (
	Pending  State = "pending"
	Approved State = "approved"
	Denied   State = "denied"
	Expired  State = "expired"
	Executed State = "executed"
)

// Plan is one action waiting for, or given, approval.
type Plan struct {
	ID        string            `json:"id"`
	State     State             `json:"state"`
	Rule      string            `json:"rule"`
	Action    string            `json:"action"`
	Params    map[string]string `json:"params,omitempty"`
	Resource  string            `json:"resource,omitempty"`
	Before    string            `json:"state_before,omitempty"`
	Planned   string            `json:"state_planned,omitempty"`
	Event     Event             `json:"event"`
	Original  Original          `json:"original"`
	Actor     Actor             `json:"actor,omitempty"`
	Approvers int               `json:"required_approvers"`
	Approvals []Vote            `json:"approvals,omitempty"`
	Denial    *Vote             `json:"denial,omitempty"`
	Created   time.Time         `json:"created"`
	Expires   time.Time         `json:"expires"`
	Changed   time.Time         `json:"changed"`
	Joined    []string          `json:"joined_events,omitempty"`
	// Closed is when a worker settled the plan's outcome (executed,
	// denied or expired recorded); zero while that is still to do.
	Closed time.Time `json:"closed,omitzero"`
}

// Event identifies the event that asked for the action.
type Event struct {
	ID      string `json:"id"`
	Source  string `json:"source"`
	Type    string `json:"type"`
	Subject string `json:"nats_subject"`
}

// Original is the event's message as it came, so the approved execution
// evaluates the same event again.
type Original struct {
	Header map[string][]string `json:"header"`
	Data   []byte              `json:"data"`
}

// Actor is who made the change the plan undoes, as the finding says.
type Actor struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Vote is one person's approval or denial.
type Vote struct {
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// ID is the plan's id and key: a short hash of the rule and the resource
// (or, for an action with no resource parameter, its parameters), so a
// rule has at most one open plan per resource.
func ID(rule, resource string, params map[string]string) string {
	what := resource
	if what == "" {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + params[k] + "\x00")
		}
		what = b.String()
	}
	h := sha256.Sum256([]byte(rule + "\x00" + what))
	return "ap-" + hex.EncodeToString(h[:6])
}

// ApprovedBy lists who approved, in order.
func (p Plan) ApprovedBy() []string {
	out := make([]string, 0, len(p.Approvals))
	for _, v := range p.Approvals {
		out = append(out, v.By)
	}
	return out
}

// Comments lists the approvals' comments, "by: comment", in order.
func (p Plan) Comments() []string {
	var out []string
	for _, v := range p.Approvals {
		if v.Comment != "" {
			out = append(out, v.By+": "+v.Comment)
		}
	}
	return out
}

// isActor reports whether by names the principal who caused the drift.
func (p Plan) isActor(by string) bool {
	return by != "" && (strings.EqualFold(by, p.Actor.Name) || by == p.Actor.ID)
}

func (p Plan) votedBy(by string) bool {
	return slices.ContainsFunc(p.Approvals, func(v Vote) bool { return strings.EqualFold(v.By, by) })
}
