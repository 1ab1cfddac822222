package action

import (
	"context"
	"fmt"
	"sort"

	"github.com/remediator/remediator/rules"
)

// Request is one call of an action, for one event and one rule.
type Request struct {
	Params  map[string]string
	DryRun  bool   // read and report, never write
	EventID string // for logs and request tracing only
}

// Result reports what an action found and did.
type Result struct {
	// Changed is true when the action wrote (and verified) a change.
	Changed bool
	// Planned is true when a dry run found a change to make.
	Planned bool
	Before  string // the state read first, human-readable
	After   string // the state read back (or the planned state)
}

// Action is one corrective call.
type Action interface {
	// Name is what rules call the action, "<provider>.<service>.<verb>".
	Name() string
	Params() []rules.ParamSpec
	// Permissions lists the RAM/IAM actions the call needs, for the
	// least-privilege policy documents in deploy/.
	Permissions() []string
	// Ensure makes the desired state hold. It must read before writing,
	// skip the write when compliant, and verify after writing. Errors
	// should be *Error; others are sorted by Classify.
	Ensure(ctx context.Context, req Request) (Result, error)
}

// Registry holds the actions a worker can run. It implements rules.Catalog.
type Registry struct {
	actions map[string]Action
}

// NewRegistry builds a registry; duplicate names are an error.
func NewRegistry(actions ...Action) (*Registry, error) {
	r := &Registry{actions: make(map[string]Action, len(actions))}
	for _, a := range actions {
		if _, dup := r.actions[a.Name()]; dup {
			return nil, fmt.Errorf("action %s registered twice", a.Name())
		}
		r.actions[a.Name()] = a
	}
	return r, nil
}

// Get returns the named action.
func (r *Registry) Get(name string) (Action, bool) {
	a, ok := r.actions[name]
	return a, ok
}

// Params implements rules.Catalog.
func (r *Registry) Params(name string) ([]rules.ParamSpec, bool) {
	a, ok := r.actions[name]
	if !ok {
		return nil, false
	}
	return a.Params(), true
}

// Names lists the registered actions, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.actions))
	for n := range r.actions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
