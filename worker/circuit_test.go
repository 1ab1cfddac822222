package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/guard"
)

// TestCircuitOpensAndOperatorResumes: a rule limited to one write per hour
// writes once, then its circuit opens (audited once), its other events
// wait without a write, and deleting the circuit key (what `control resume
// RULE` does) lets them through.
func TestCircuitOpensAndOperatorResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.RetryMax = 100 * time.Millisecond; c.MaxDeliver = 100 })
	b.stop()
	b.set = limitedRule(t, b, 1)
	b.start()
	b.publish(ctsEvent("c-1", keyOff), events.Structured)
	b.waitFinal(1)
	b.publish(ctsEvent("c-2", keyOff2), events.Structured)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.mem.Wait(ctx, func(ds []audit.Decision) bool {
		n := 0
		for _, d := range ds {
			if d.Outcome == audit.Retrying && d.Reason == "circuit_open" {
				n++
			}
		}
		return n >= 3
	}); err != nil {
		t.Fatal("the second event was not held by the open circuit")
	}
	if n := b.sim.Writes(""); n != 1 {
		t.Fatalf("writes %d while the circuit is open, want 1", n)
	}
	opened := 0
	for _, m := range b.streamMsgs(b.cfg.AuditStream) {
		if m.Subject() == b.cfg.AuditSubject+".circuit_open" {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("%d circuit_open audit records, want 1", opened)
	}
	kv, err := b.js.KeyValue(context.Background(), b.cfg.ControlBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), guard.CircuitKey("limited")); err != nil {
		t.Fatal(err)
	}
	if err := b.mem.Wait(ctx, func([]audit.Decision) bool { return len(b.mem.Final()["c-2"]) == 1 }); err != nil {
		t.Fatal("the held event did not go through after the resume")
	}
	if k, _ := b.sim.Key(project, keyOff2); !k.Rotation || b.sim.Writes("") != 2 {
		t.Errorf("after the resume: rotation %v, writes %d", k.Rotation, b.sim.Writes(""))
	}
}

// TestReadsInFlightDoNotTripTheCircuit: a rule limited to 3 writes an
// hour, 4 events at once about compliant keys (slow reads, coalescing
// off): the fourth waits for a slot instead of opening the circuit, and
// no write happens.
func TestReadsInFlightDoNotTripTheCircuit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.CoalesceFor, c.MaxDeliver, c.RetryMax = 0, 50, 100*time.Millisecond })
	b.stop()
	b.set = limitedRule(t, b, 3)
	b.sim.SetChaos(cloudsim.Chaos{Latency: 100 * time.Millisecond})
	const n = 8
	for i := range n {
		b.publish(ctsEvent(fmt.Sprintf("ro-%d", i), keyOn), events.Structured)
	}
	b.start()
	busy := 0
	for _, d := range b.waitFinal(n) {
		if d.Outcome != audit.AlreadyCompliant {
			t.Errorf("decision %+v, want already compliant", d)
		}
	}
	for _, d := range b.mem.Decisions() {
		if d.Outcome == audit.CircuitOpen || d.Reason == "circuit_open" {
			t.Fatalf("the circuit opened with no write: %+v", d)
		}
		if d.Reason == "busy" {
			busy++
		}
	}
	if w := b.sim.Writes(""); w != 0 {
		t.Errorf("%d writes", w)
	}
	t.Logf("%d waits for a slot or a lease", busy)
}

// limitedRule is the built-in rotation rule limited to writes an hour.
func limitedRule(t *testing.T, b *bundle, writes int) *rules.Set {
	t.Helper()
	set, err := rules.Parse(b.reg, "limited.yaml", []byte(fmt.Sprintf(`rules:
  - name: limited
    match: {type: "KMS:CloudTrace:*"}
    when: finding.drift == "kms.key_rotation_disabled"
    limits: {writes: %d, per: 1h}
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: finding.project}, key_id: {expr: finding.resource_id}}
`, writes)))
	if err != nil {
		t.Fatal(err)
	}
	return set
}
