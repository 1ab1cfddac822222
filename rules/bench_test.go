package rules

import (
	"fmt"
	"strings"
	"testing"
)

// rules200 is 199 rules on other types and the CTS rotation rule.
func rules200(tb testing.TB) *Set {
	tb.Helper()
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 199 {
		fmt.Fprintf(&b, `  - name: r%d
    match: {type: "com.example.type%d", source: "src%d"}
    when: has(data.trace_name) && data.trace_name == "x%d"
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: {expr: data.resource_id}}
`, i, i, i, i)
	}
	b.WriteString(`  - name: cts
    match: {type: "KMS:CloudTrace:ApiCall", source: HC.KMS}
    when: data.trace_name == "disableKeyRotation" && (data.code == 200 || data.code == "200")
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: data.region_id}, project_id: {expr: data.project_id}, key_id: {expr: data.resource_id}}
`)
	set, err := Parse(testCatalog, "bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// TestUnmatchedTypeAllocatesNothing: an event whose type no rule names is
// dismissed by the type index without allocating.
func TestUnmatchedTypeAllocatesNothing(t *testing.T) {
	set := rules200(t)
	env := decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"com.example.unrelated"}`)
	if n := testing.AllocsPerRun(100, func() { _ = set.Evaluate(env) }); n != 0 {
		t.Errorf("%v allocations per unmatched event, want 0", n)
	}
}

// BenchmarkEvaluate200Rules measures matching one event against 200 rules
// (target: at most 5 µs, zero allocations when no rule names the type).
// Run: go test ./rules -run '^$' -bench Evaluate -benchmem
func BenchmarkEvaluate200Rules(b *testing.B) {
	set := rules200(b)
	matched := decode(b, ctsEvent)
	unmatched := decode(b, `{"specversion":"1.0","id":"1","source":"s","type":"com.example.unrelated"}`)
	b.Run("matched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(set.Evaluate(matched)) != 1 {
				b.Fatal("no match")
			}
		}
	})
	b.Run("unmatched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = set.Evaluate(unmatched)
		}
	})
}

// BenchmarkEvaluateBuiltin measures the built-in pack on a normalised CTS
// trace that one rule matches (the worker's per-event rule cost).
// Run: go test ./rules -run '^$' -bench EvaluateBuiltin -benchmem
func BenchmarkEvaluateBuiltin(b *testing.B) {
	set, err := Builtin(testCatalog)
	if err != nil {
		b.Fatal(err)
	}
	env := decode(b, `{"specversion":"1.0","id":"1","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall",
"data":{"trace_name":"disableKeyRotation","code":"200","region_id":"cn-north-4","domain_id":"5f1e2d3c4b5a69788796a5b4c3d2e1f0",
"project_id":"0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","user":{"name":"ops-alice"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if ms := set.Evaluate(env); len(ms) != 1 || ms[0].Err != nil {
			b.Fatalf("%+v", ms)
		}
	}
}
