package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/streams"
)

// crashLoop delivers the n messages in the intake MaxDeliver (2) times
// without settling them, as a worker that dies holding them would, with
// no worker running; the next worker's pull makes the server announce
// them as max-deliveries.
func (b *bundle) crashLoop(n int) {
	b.t.Helper()
	cons, err := b.js.Consumer(context.Background(), b.cfg.Stream, b.cfg.Consumer)
	if err != nil {
		b.t.Fatal(err)
	}
	for round := range b.cfg.MaxDeliver {
		got := 0
		for got < n {
			batch, err := cons.Fetch(n-got, jetstream.FetchMaxWait(3*time.Second))
			if err != nil {
				b.t.Fatal(err)
			}
			k := 0
			for range batch.Messages() {
				k++
			}
			if k == 0 {
				b.t.Fatalf("delivery %d: %d of %d messages", round+1, got, n)
			}
			got += k
		}
	}
	time.Sleep(2 * b.cfg.AckWait)
}

// waitStream waits until a stream holds n messages and returns them.
func (b *bundle) waitStream(stream string, n int) []jetstream.Msg {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms := b.streamMsgs(stream)
		if len(ms) >= n || time.Now().After(deadline) {
			return ms
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrashLoopUndecodableEachAudited: distinct undecodable events (no
// ce-id) moved by the max-deliveries path each get a dead letter and an
// audit record. Before the fix their records shared one Nats-Msg-Id and
// the audit stream kept one.
func TestCrashLoopUndecodableEachAudited(t *testing.T) {
	t.Parallel()
	const events = 3
	b := setup(t, func(c *worker.Config) { c.MaxDeliver = 2; c.AckWait = 300 * time.Millisecond })
	b.stop()
	for i := range events {
		b.publishRaw("remediation.events.bad", nil, []byte(fmt.Sprintf(`{"specversion":"1.0","id":"cut-%d`, i)))
	}
	b.crashLoop(events)
	b.start()
	dl := b.waitStream(b.cfg.DLQStream, events)
	audits := b.waitStream(b.cfg.AuditStream, events)
	time.Sleep(300 * time.Millisecond) // a duplicate would have arrived by now
	audits = b.streamMsgs(b.cfg.AuditStream)
	t.Logf("%d undecodable events crash-looped: %d dead letters, %d audit records", events, len(dl), len(audits))
	if len(dl) != events || len(audits) != events {
		t.Fatalf("want %d dead letters and %d audit records, got %d and %d", events, events, len(dl), len(audits))
	}
	for _, m := range dl {
		if r := m.Headers().Get(streams.HeaderReason); r != "max_deliveries" {
			t.Errorf("dead letter reason %q", r)
		}
	}
	b.assertDrained()
}

// TestCrashLoopTooLargeIsStubbed: a crash-looped message stored before the
// intake's limit was lowered, whose dead letter exceeds the dead-letter
// stream's MaxMsgSize, is moved as a stub (reason too_large, original
// reason max_deliveries, headers kept) and leaves the intake.
func TestCrashLoopTooLargeIsStubbed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) {
		c.MaxDeliver, c.AckWait, c.MaxMsgSize, c.MaxEventBytes = 2, 300*time.Millisecond, 4<<10, 1<<10
	})
	b.stop()
	ctx := context.Background()
	st, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	sc := st.CachedInfo().Config
	sc.MaxMsgSize = 1 << 20 // as created by an earlier version
	if _, err := b.js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("y", 100<<10)) // over the dead-letter stream's 4 KiB + 64 KiB
	b.publishRaw("remediation.events.big", nats.Header{"X-Trace": {"t-1"}}, body)
	b.crashLoop(1)
	b.start()
	dl := b.waitStream(b.cfg.DLQStream, 1)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters", len(dl))
	}
	h := dl[0].Headers()
	var stub streams.DeadLetterStub
	if err := json.Unmarshal(dl[0].Data(), &stub); err != nil {
		t.Fatalf("not a stub: %v", err)
	}
	t.Logf("a %d-byte crash-looped event: dead letter of %d bytes, %s=%s, %s=%s", len(body), len(dl[0].Data()),
		streams.HeaderReason, h.Get(streams.HeaderReason), streams.HeaderOriginalReason, h.Get(streams.HeaderOriginalReason))
	if stub.Size != len(body) || stub.OriginalReason != "max_deliveries" || h.Get(streams.HeaderReason) != "too_large" ||
		h.Get(streams.HeaderBody) != streams.BodyStub || h.Get("X-Trace") != "t-1" {
		t.Errorf("stub %+v, headers %v", stub, h)
	}
	if audits := b.waitStream(b.cfg.AuditStream, 1); len(audits) != 1 {
		t.Errorf("%d audit records", len(audits))
	}
	b.assertDrained()
}
