package action

import (
	"context"
	"fmt"
	"sort"
	"time"

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
	// skip the write when compliant, and verify after writing (the
	// function Ensure runs that template for a Desired). Errors should be
	// *Error; others are sorted by Classify.
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

// Call runs one blocking SDK call (the vendor SDKs take no context) and
// returns early when ctx ends, with a classified *Error. The SDK's own
// timeout bounds the abandoned call; because every action reads before it
// writes, a write that lands after we gave up is found compliant on the
// next attempt. Errors from f are returned as they are, for the provider
// to classify.
func Call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	runOnCaller(func() {
		v, err := f()
		ch <- result{v, err}
	})
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, Classify(ctx.Err())
	}
}

// CallOp is Call for one operation of a provider: f's error goes through
// the provider's classify (its error table), which names op in the error.
// An ended ctx's error goes through it too.
func CallOp[T any](ctx context.Context, op string, classify func(op string, err error) error, f func() (T, error)) (T, error) {
	v, err := Call(ctx, f)
	if err != nil {
		return v, classify(op, err)
	}
	return v, nil
}

// SDK calls run on reused goroutines. A new goroutine starts with a small
// stack and the SDKs' calls are deep: growing (copying) the stack on every
// call showed in the write path's profile (README, Performance). A goroutine that
// ran a call waits idleCaller for the next one, then exits, so the
// goroutines are as many as the calls in flight at the busiest moment.
const idleCaller = 10 * time.Second

// idleCallers hands a call to a goroutine waiting for one. It is the
// package's one variable: goroutines, like a sync.Pool's objects, are
// shared by the whole process and hold no state between calls.
var idleCallers = make(chan func())

func runOnCaller(f func()) {
	select {
	case idleCallers <- f:
	default:
		go caller(f)
	}
}

func caller(f func()) {
	t := time.NewTimer(idleCaller)
	defer t.Stop()
	for {
		f()
		t.Reset(idleCaller)
		select {
		case f = <-idleCallers:
		case <-t.C:
			return
		}
	}
}
