package action

// Op is one cloud API call an action makes, declared with the action so
// that the provider learns from the actions which calls are writes and
// at what rate each is paced by default.
type Op struct {
	// Name is "<service>.<API>": the pacing key (see Rates) and the
	// prefix of the call's errors.
	Name string
	// Write marks a call that changes state: the provider fences it
	// right before it is sent (see BeforeWrite).
	Write bool
	// Rate is the API's documented default pace. Zero leaves the call to
	// its service's shared bucket or to "*" (see Rates).
	Rate Rate
}

// Operator is an action that declares the calls it makes.
type Operator interface {
	Ops() []Op
}

// WriteOps names the calls the actions declare as writes.
func WriteOps(actions []Action) map[string]bool {
	out := map[string]bool{}
	for _, op := range ops(actions) {
		if op.Write {
			out[op.Name] = true
		}
	}
	return out
}

// OpRates are the default rates the actions declare for their calls
// (calls declared without one are left out).
func OpRates(actions []Action) Rates {
	out := Rates{}
	for _, op := range ops(actions) {
		if op.Rate != (Rate{}) {
			out[op.Name] = op.Rate
		}
	}
	return out
}

func ops(actions []Action) []Op {
	var out []Op
	for _, a := range actions {
		if o, ok := a.(Operator); ok {
			out = append(out, o.Ops()...)
		}
	}
	return out
}
