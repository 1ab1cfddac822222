package rules

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// bigEvent is an event whose data.s is a string of n bytes and data.items
// a list of items numbers.
func bigEvent(t testing.TB, n, items int) string {
	t.Helper()
	list := strings.TrimSuffix(strings.Repeat("1,", items), ",")
	return fmt.Sprintf(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"s":%q,"items":[%s]}}`, strings.Repeat("a", n), list)
}

// TestExpressionsThatBuildHugeValuesFail: each expression, on an event of
// one 200 KB string, would build tens of megabytes to gigabytes; each
// fails with an EvalError having allocated little (the concatenation was
// costed at 1 per call before: data is dyn, so CEL's per-overload models
// did not apply).
func TestExpressionsThatBuildHugeValuesFail(t *testing.T) {
	for _, when := range []string{
		`data.items.map(x, data.s + data.s + data.s).size() > 0`,
		`data.s.replace("a", data.s) == "x"`,
		`data.items.map(x, data.s).join(",") == "x"`,
		`"%s".format([data.items.map(x, data.s)]) == "x"`,
		`data.items.map(x, data.s + "b").size() > 0`,
	} {
		t.Run(when, func(t *testing.T) {
			set := whenRule(t, when)
			env := decode(t, bigEvent(t, 200_000, 100))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ms := set.Evaluate(env)
			runtime.ReadMemStats(&after)
			if len(ms) != 1 || ms[0].Err == nil {
				t.Fatalf("got %+v, want one match failing with an error", ms)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Errorf("allocated %d bytes, want at most 8 MiB", n)
			}
			t.Logf("%v", ms[0].Err)
		})
	}
}

// TestSmallValuesStillBuild: the guards and size-aware costs leave
// ordinary expressions on ordinary events alone.
func TestSmallValuesStillBuild(t *testing.T) {
	for _, when := range []string{
		`data.items.map(x, data.s + data.s).size() == 3`,
		`data.s.replace("a", "bb") == "bbbbbb"`,
		`data.items.map(x, data.s).join(",") == "aaa,aaa,aaa"`,
		`"%s-%s".format([data.s, data.items]) == "aaa-[1, 1, 1]"`,
	} {
		if ms := whenRule(t, when).Evaluate(decode(t, bigEvent(t, 3, 3))); len(ms) != 1 || ms[0].Err != nil {
			t.Errorf("%s: got %+v, want one match without error", when, ms)
		}
	}
}

// TestBoundedCostNeedsBoundedSizes: the untracked shortcut applies only
// to expressions whose worst case is bounded whatever the sizes of event
// data. Four of the built-in pack's twelve are; the others are tracked,
// behind a prefilter of their bounded conjuncts (TestWhenPrefilterBuiltin,
// BenchmarkEvaluateBuiltin).
func TestBoundedCostNeedsBoundedSizes(t *testing.T) {
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]bool{
		`data.items.map(x, data.s + data.s + data.s).size() > 0`: false,
		`data.s + data.s == "x"`:                                 false,
		`data.s < data.t`:                                        false,
		`data.x in data.items`:                                   false,
		`data.trace_name == "x" && (data.code == 200 || data.code == "200")`: true,
	} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		if got := boundedCost(env, ast); got != want {
			t.Errorf("boundedCost(%s) = %v, want %v", expr, got, want)
		}
	}
}

// whenRule is a set of one rule, matching type t, with the condition when.
func whenRule(t *testing.T, when string) *Set {
	t.Helper()
	set, err := Parse(testCatalog, "x.yaml", []byte(`rules:
  - name: r
    match: {type: t}
    when: '`+when+`'
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
`))
	if err != nil {
		t.Fatal(err)
	}
	return set
}
