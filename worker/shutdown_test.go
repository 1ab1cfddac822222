package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
)

// waitInFlight waits until a call to op has started and not finished.
func (b *bundle) waitInFlight(op string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range b.sim.Calls() {
			if c.Op == op && !c.Done {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.t.Fatalf("no %s call in flight", op)
}

func TestShutdownLetsInFlightCallFinish(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.ShutdownTimeout = 5 * time.Second })
	b.sim.SetChaos(cloudsim.Chaos{Latency: 500 * time.Millisecond, Seed: 1})
	b.publish(ctsEvent("sd-finish", keyOff), events.Structured)
	b.waitInFlight(opEnable)
	b.stop() // what SIGTERM does in `remediator run`
	final := b.mem.Final()["sd-finish"]
	if len(final) != 1 || final[0].Outcome != audit.Remediated {
		t.Fatalf("final decisions %+v, want the in-flight work to complete and be acked", final)
	}
	b.assertDrained()
	if n := b.sim.Writes(opEnable); n != 1 {
		t.Errorf("writes = %d, want 1", n)
	}
}

func TestShutdownTimeoutHandsMessageBack(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.ShutdownTimeout = 100 * time.Millisecond })
	b.sim.SetChaos(cloudsim.Chaos{Latency: 1500 * time.Millisecond, Seed: 1})
	b.publish(ctsEvent("sd-cut", keyOff), events.Structured)
	b.waitInFlight(opEnable)
	b.stop()
	if final := b.mem.Final()["sd-cut"]; len(final) != 0 {
		t.Fatalf("cut-off work was settled as final: %+v", final)
	}
	released := false
	for _, d := range b.mem.Decisions() {
		released = released || d.Outcome == audit.Released
	}
	if !released {
		t.Error("no released decision recorded for the cut-off message")
	}
	// The message is not lost: a new replica takes it and finishes it.
	b.sim.SetChaos(cloudsim.Chaos{})
	b.start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.mem.Wait(ctx, func([]audit.Decision) bool { return len(b.mem.Final()["sd-cut"]) == 1 }); err != nil {
		t.Fatal("the handed-back message was never finished")
	}
	b.assertDrained()
	if key, _ := b.sim.Key(project, keyOff); !key.Rotation {
		t.Error("rotation still off")
	}
	if n := b.sim.Writes(opEnable); n != 1 {
		t.Errorf("successful writes = %d, want 1 (the abandoned call and the retry must not both write)", n)
	}
}
