package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/ledger"
)

// TestRedeliveryAfterDoneMakesNoCall: the same event arriving again (here
// republished past the duplicate window's id) is acked from the ledger.
func TestRedeliveryAfterDoneMakesNoCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := ctsEvent("led-1", keyOff)
	b.publish(r, events.Structured)
	b.waitFinal(1)
	calls := len(b.sim.Calls())
	b.publishRaw(b.cfg.Streams().IntakeSubject(r.Source), nats.Header{"Content-Type": {events.StructuredContentType}, "Nats-Msg-Id": {"another-id"}}, r.Body)
	ds := b.waitFinal(2)
	if d := ds[1]; d.Outcome != audit.Remediated || d.Detail == "" {
		t.Errorf("second delivery %+v, want the recorded outcome from the ledger", d)
	}
	if n := len(b.sim.Calls()); n != calls {
		t.Errorf("%d cloud calls after the done record, want none", n-calls)
	}
	b.assertDrained()
}

// TestLiveLeaseDelaysThenExpiredLeaseIsTakenOver: a lease held by another
// (crashed) replica delays the event; once it expires the work is taken over.
func TestLiveLeaseDelaysThenExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.AckWait = time.Second })
	ctx := context.Background()
	kv, err := b.js.KeyValue(ctx, b.cfg.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	r := ctsEvent("led-2", keyOff)
	key := ledger.EventKey(r.Source, r.ID, "huawei-kms-rotation-disabled-cts")
	val, _ := json.Marshal(map[string]any{"state": "leased", "owner": "crashed-replica", "until": time.Now().Add(1500 * time.Millisecond)})
	if _, err := kv.Create(ctx, key, val); err != nil {
		t.Fatal(err)
	}
	b.publish(r, events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.Remediated || ds[0].Attempt != 1 {
		t.Errorf("final %+v, want remediated at attempt 1: waiting for the lease is no attempt", ds[0])
	}
	busy := 0
	for _, d := range b.mem.Decisions() {
		if d.Outcome == audit.Retrying && d.Reason == "busy" {
			busy++
		}
	}
	if busy == 0 {
		t.Error("the live lease did not delay the event")
	}
	if n := b.sim.Writes(opEnable); n != 1 {
		t.Errorf("writes = %d, want 1", n)
	}
	e, err := kv.Get(ctx, key)
	if err != nil || !json.Valid(e.Value()) || string(e.Value()) == string(val) {
		t.Errorf("the ledger entry was not replaced by a done record: %v %s", err, e.Value())
	}
}

// TestBurstAboutOneResourceMakesOneWrite: many drift events about one key,
// handled concurrently, make one write (the resource lease serialises them
// and each later one reads the key as compliant).
func TestBurstAboutOneResourceMakesOneWrite(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.Concurrency = 8; c.RetryBase = 10 * time.Millisecond; c.MaxDeliver = 50 })
	const n = 40
	for i := range n {
		b.publish(ctsEvent(fmt.Sprintf("burst-%d", i), keyOff), events.Structured)
	}
	ds := b.waitFinal(n)
	remediated := 0
	for _, d := range ds {
		if d.Outcome == audit.Remediated {
			remediated++
		} else if d.Outcome != audit.AlreadyCompliant {
			t.Errorf("decision %+v", d)
		}
	}
	if w := b.sim.Writes(opEnable); w != 1 || remediated != 1 {
		t.Errorf("%d writes and %d remediated for %d events about one key, want 1 and 1", w, remediated, n)
	}
	for _, c := range b.sim.Calls() {
		if c.Op == opEnable && c.Status != 200 {
			t.Errorf("a second write was attempted: %+v", c)
		}
	}
	b.assertDrained()
	_ = jetstream.ErrKeyNotFound
}
