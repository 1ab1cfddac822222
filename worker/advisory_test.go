package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// TestCrashLoopIsDeadLettered: a message delivered MaxDeliver times to a
// worker that died each time is found through the server's advisory
// (captured while no worker ran) and moved to the dead-letter stream.
func TestCrashLoopIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.MaxDeliver = 2; c.AckWait = 300 * time.Millisecond })
	b.stop()
	ctx := context.Background()
	cons, err := b.js.Consumer(ctx, b.cfg.Stream, b.cfg.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	b.publish(ctsEvent("crash-loop", keyOff), events.Binary)
	for i := range 2 { // two deliveries, neither settled: the "worker" dies holding them
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for range batch.Messages() {
			got++
		}
		if got != 1 {
			t.Fatalf("delivery %d: got %d messages", i+1, got)
		}
	}
	// The server notices the exhausted message when someone pulls again:
	// the restarted worker's pull triggers the advisory it then handles.
	time.Sleep(2 * b.cfg.AckWait)
	b.start()
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.DeadLettered || ds[0].Reason != "max_deliveries" || ds[0].EventID != "crash-loop" {
		t.Fatalf("final %+v", ds[0])
	}
	dl := b.deadLetters()
	if len(dl) != 1 || dl[0].Headers().Get(streams.HeaderReason) != "max_deliveries" || dl[0].Headers().Get("ce-id") != "crash-loop" {
		t.Fatalf("dead letters: %d", len(dl))
	}
	b.assertDrained()
	if n := len(b.sim.Calls()); n != 0 {
		t.Errorf("%d cloud calls", n)
	}
}
