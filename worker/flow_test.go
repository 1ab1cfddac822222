package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// TestSlowCallIsKeptAlive: the three calls take longer together than
// AckWait, yet InProgress keeps the server from redelivering the message.
func TestSlowCallIsKeptAlive(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.AckWait = 600 * time.Millisecond })
	b.sim.SetChaos(cloudsim.Chaos{Latency: 400 * time.Millisecond, Seed: 1})
	b.publish(ctsEvent("slow-1", keyOff), events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.Remediated || ds[0].Attempt != 1 {
		t.Fatalf("final %+v, want remediated on the first delivery", ds[0])
	}
	time.Sleep(700 * time.Millisecond) // a redelivery would show up by now
	if n := len(b.mem.Decisions()); n != 1 {
		t.Errorf("%d decisions, want 1: the message was redelivered while in progress", n)
	}
	if n := len(b.sim.Calls()); n != 4 {
		t.Errorf("%d calls, want 4 (describe, read, write, verify)", n)
	}
	b.assertDrained()
}

// TestDeadLetterOutageLosesNothing: while the dead-letter stream is gone
// the message is Naked, not Termed; once it is back the message lands there.
func TestDeadLetterOutageLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.MaxDeliver = 20; c.RetryBase = 100 * time.Millisecond })
	ctx := context.Background()
	if err := b.js.DeleteStream(ctx, b.cfg.DLQStream); err != nil {
		t.Fatal(err)
	}
	b.publishRaw(b.cfg.Streams().IntakeSubject("test"), nil, []byte("not an event"))
	cons, err := b.js.Consumer(ctx, b.cfg.Stream, b.cfg.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumRedelivered > 0 || info.Delivered.Consumer >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message was not redelivered after the dead-letter publish failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(b.mem.Final()) != 0 {
		t.Fatal("a final decision was recorded although the dead-letter publish failed")
	}
	if _, err := streams.EnsureTopology(ctx, b.js, b.cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.DeadLettered || ds[0].Reason != "invalid_event" || ds[0].Attempt < 2 {
		t.Errorf("final %+v, want dead_lettered invalid_event after a retry", ds[0])
	}
	if n := len(b.deadLetters()); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	b.assertDrained()
}
