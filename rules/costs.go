package rules

import (
	"math"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// MaxValueBytes bounds the string one CEL call (replace, join, format) may
// build. Those calls can make a value far larger than their inputs (a
// replace multiplies, a join or format of a list that holds one event
// string many times repeats it), and CEL charges their cost only after the
// value is built: without this check one call could allocate gigabytes
// before the cost limit stops the expression.
const MaxValueBytes = 1 << 20

// boundedCost reports whether CEL's static estimate of the expression's
// cost, knowing nothing of the sizes of event data, is within CostLimit
// for any event. Such an expression needs no cost tracking while it runs
// (tracking showed in the rules benchmark; README, Performance); any other, one
// ranging over event data or concatenating its strings for instance, is
// tracked and stopped at the limit. The estimate takes every dyn value
// (all of data) to be of unknown, unbounded size, so anything whose work
// grows with the size of event data is never "bounded"
// (TestBoundedCostNeedsBoundedSizes).
func boundedCost(env *cel.Env, ast *cel.Ast) bool {
	est, err := env.EstimateCost(ast, unknownSizes{})
	return err == nil && est.Max <= CostLimit
}

// unknownSizes is a cost estimator with no knowledge of sizes: the
// estimate is then the worst case over all inputs.
type unknownSizes struct{}

func (unknownSizes) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }

func (unknownSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// sizeCosts is the run-time cost of calls CEL resolves only while the
// expression runs. On dyn arguments (all of data) the checker cannot pick
// one overload, so the call carries no overload id and CEL's own cost
// models, keyed by overload id, do not apply: without this estimator
// data.s + data.s cost 1 whatever the size of data.s. It charges such a
// call as CEL charges a string concatenation: one plus a tenth of the
// sizes of its arguments (strings, bytes, lists, maps).
type sizeCosts struct{}

// CallCost implements cost.ActualCostEstimator.
func (sizeCosts) CallCost(_, overloadID string, args []ref.Val, _ ref.Val) *uint64 {
	if overloadID != "" {
		return nil // CEL's model for the overload applies
	}
	var n uint64
	for _, a := range args {
		if s, ok := a.(traits.Sizer); ok {
			if sz, ok := s.Size().(types.Int); ok && sz > 0 {
				n += uint64(sz)
			}
		}
	}
	c := 1 + uint64(math.Ceil(float64(n)*common.StringTraversalCostFactor))
	return &c
}

// sizeBound gives an upper bound on the bytes a call would build from
// its arguments (receiver first), without building anything.
type sizeBound func(args []ref.Val) uint64

// builders are the calls whose result may be much larger than their
// arguments.
func builders() map[string]sizeBound {
	return map[string]sizeBound{"replace": replaceSize, "join": joinSize, "format": formatSize}
}

// guardedCalls wraps the env's bindings of the builders so that a call
// that would build more than MaxValueBytes fails (a CEL error: the rule
// fails with rule_error) before it allocates.
func guardedCalls(env *cel.Env) ([]*functions.Overload, error) {
	decls := env.Functions()
	var out []*functions.Overload
	for name, bound := range builders() {
		bs, err := decls[name].Bindings()
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			out = append(out, guard(b, name, bound))
		}
	}
	return out, nil
}

func guard(o *functions.Overload, name string, bound sizeBound) *functions.Overload {
	g := *o
	check := func(args ...ref.Val) ref.Val {
		if n := bound(args); n > MaxValueBytes {
			return types.NewErr("%s would build a string of at least %d bytes, the limit is %d", name, n, MaxValueBytes)
		}
		return nil
	}
	if f := o.Unary; f != nil {
		g.Unary = func(a ref.Val) ref.Val { return orCall(check(a), func() ref.Val { return f(a) }) }
	}
	if f := o.Binary; f != nil {
		g.Binary = func(a, b ref.Val) ref.Val { return orCall(check(a, b), func() ref.Val { return f(a, b) }) }
	}
	if f := o.Function; f != nil {
		g.Function = func(args ...ref.Val) ref.Val { return orCall(check(args...), func() ref.Val { return f(args...) }) }
	}
	return &g
}

func orCall(err ref.Val, call func() ref.Val) ref.Val {
	if err != nil {
		return err
	}
	return call()
}

func str(v ref.Val) (string, bool) {
	s, ok := v.(types.String)
	return string(s), ok
}

// replaceSize: every match of old (len(s)+1 of them for an empty old)
// becomes new.
func replaceSize(args []ref.Val) uint64 {
	if len(args) < 3 {
		return 0
	}
	s, ok1 := str(args[0])
	old, ok2 := str(args[1])
	repl, ok3 := str(args[2])
	if !ok1 || !ok2 || !ok3 || len(repl) <= len(old) {
		return uint64(len(s))
	}
	n := uint64(utf8.RuneCountInString(s) + 1)
	if old != "" {
		n = uint64(countUpTo(s, old, MaxValueBytes+1))
	}
	if len(args) > 3 {
		if lim, ok := args[3].(types.Int); ok && lim >= 0 && uint64(lim) < n {
			n = uint64(lim)
		}
	}
	return uint64(len(s)) + n*uint64(len(repl)-len(old))
}

// countUpTo counts non-overlapping matches, stopping at most (enough to
// know the result is too large).
func countUpTo(s, sub string, most int) int {
	n := 0
	for i := 0; n < most; n++ {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			break
		}
		i += j + len(sub)
	}
	return n
}

// joinSize: the elements plus a separator between each two.
func joinSize(args []ref.Val) uint64 {
	if len(args) == 0 {
		return 0
	}
	var sep uint64
	if len(args) > 1 {
		if s, ok := str(args[1]); ok {
			sep = uint64(len(s))
		}
	}
	l, ok := args[0].(traits.Lister)
	if !ok {
		return 0
	}
	var n uint64
	it := l.Iterator()
	for it.HasNext() == types.True && n <= MaxValueBytes {
		s, _ := str(it.Next())
		n += uint64(len(s)) + sep
	}
	return n
}

// formatSize: the format string plus what the arguments print as.
func formatSize(args []ref.Val) uint64 {
	if len(args) < 2 {
		return 0
	}
	s, _ := str(args[0])
	return uint64(len(s)) + printedSize(args[1], MaxValueBytes+1)
}

// printedSize is a lower bound on what %s prints for v, counted up to at
// most (a list may hold one large string many times).
func printedSize(v ref.Val, most uint64) uint64 {
	switch v := v.(type) {
	case types.String:
		return uint64(len(v))
	case types.Bytes:
		return uint64(len(v))
	case traits.Mapper:
		return iterSize(v.Iterator(), func(k ref.Val) ref.Val { return v.Get(k) }, most)
	case traits.Lister:
		return iterSize(v.Iterator(), nil, most)
	}
	return 1
}

func iterSize(it traits.Iterator, value func(ref.Val) ref.Val, most uint64) uint64 {
	n := uint64(2)
	for it.HasNext() == types.True && n < most {
		e := it.Next()
		n += 1 + printedSize(e, most-n)
		if value != nil && n < most {
			n += printedSize(value(e), most-n)
		}
	}
	return n
}

// celLimits are the program options every rule expression gets: the
// guarded builders always, and, unless its cost is bounded whatever the
// event, run-time cost tracking that knows the sizes of dyn arguments.
func celLimits(env *cel.Env, ast *cel.Ast, guarded []*functions.Overload) []cel.ProgramOption {
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize), cel.Functions(guarded...)}
	if !boundedCost(env, ast) {
		opts = append(opts, cel.CostTracking(sizeCosts{}), cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	}
	return opts
}
