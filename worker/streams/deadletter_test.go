package streams

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// recorded is an audit.Recorder that keeps what it is given.
type recorded struct {
	mu sync.Mutex
	ds []audit.Decision
}

func (r *recorded) Record(_ context.Context, d audit.Decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
	return nil
}

// TestDeadLetterStoresOnceAndRecords: a dead letter keeps the original
// body and headers (not its Nats-* ones) beside the Remediator-* headers,
// is stored once however often it is made (Nats-Msg-Id), and records the
// decisions done before the failure, then the dead_lettered one, all
// final. The first failure is the one the worker noted.
func TestDeadLetterStoresOnceAndRecords(t *testing.T) {
	t.Parallel()
	b := setupDLQ(t)
	ctx := context.Background()
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &recorded{}
	x := NewDeadLetterer(b.cfg, DeadLetterDeps{JetStream: b.js, Recorder: rec,
		FirstFailure: func(context.Context, string, uint64) time.Time { return first }})
	o := Original{Subject: b.cfg.IntakeSubject("HC.KMS"), Data: []byte(`{"id":"e-1"}`), Stream: b.cfg.Stream, Seq: 42,
		Header: nats.Header{"ce-id": {"e-1"}, jetstream.MsgIDHeader: {"m-1"}, "Nats-Expected-Stream": {"X"}, "Remediator-Rule": {"forged"}}}
	done := audit.Decision{Event: audit.Event{EventID: "e-1"}, Result: audit.Result{Rule: "first", Outcome: audit.Remediated}}
	failed := audit.Decision{Event: audit.Event{EventID: "e-1", Sequence: 42, Attempt: 3}, Result: audit.Result{Rule: "second", Action: "a"}}
	fail := action.Errorf(action.Permanent, action.ReasonNotFound, "KMS.0207", "key gone")
	for range 2 {
		d, err := x.DeadLetter(ctx, o, failed, fail, []audit.Decision{done})
		if err != nil || d.Outcome != audit.DeadLettered || d.Reason != action.ReasonNotFound || d.Code != "KMS.0207" || !d.Final {
			t.Fatalf("decision %+v, %v", d, err)
		}
	}
	dls, err := ListDeadLetters(ctx, b.js, b.cfg, DeadLetterFilter{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("%d dead letters, %v; want 1", len(dls), err)
	}
	d := dls[0]
	if d.Subject != b.cfg.DLQSubject+".not_found" || d.Rule != "second" || d.Action != "a" || d.Attempts != 3 || d.EventID != "e-1" ||
		d.OriginalSubject != o.Subject || d.OriginalStream != b.cfg.Stream || d.OriginalSequence != 42 || !d.FirstFailure.Equal(first) ||
		d.Header.Get(HeaderOriginalMsgID) != "m-1" || d.Header.Get("Nats-Expected-Stream") != "" || string(d.Data) != `{"id":"e-1"}` {
		t.Errorf("dead letter %+v", d)
	}
	var outcomes []audit.Outcome
	for _, r := range rec.ds {
		if !r.Final {
			t.Errorf("recorded %+v not final", r)
		}
		outcomes = append(outcomes, r.Outcome)
	}
	want := []audit.Outcome{audit.Remediated, audit.DeadLettered, audit.Remediated, audit.DeadLettered}
	if !slices.Equal(outcomes, want) {
		t.Errorf("recorded %v, want %v", outcomes, want)
	}
}

// TestDeadLetterTooLargeIsAStub: an original whose dead letter the
// dead-letter stream cannot store is stored as a stub that describes it,
// and its decision says so.
func TestDeadLetterTooLargeIsAStub(t *testing.T) {
	t.Parallel()
	b := setupDLQ(t) // dead letters up to 4 KiB + 64 KiB
	ctx := context.Background()
	x := NewDeadLetterer(b.cfg, DeadLetterDeps{JetStream: b.js})
	body := []byte(strings.Repeat("y", 100<<10))
	o := Original{Subject: b.cfg.IntakeSubject("HC.KMS"), Header: nats.Header{"X-Trace": {"t-1"}}, Data: body, Stream: b.cfg.Stream, Seq: 1}
	d, err := x.DeadLetter(ctx, o, audit.Decision{}, action.Errorf(action.Permanent, audit.ReasonInvalidEvent, "", "not JSON"), nil)
	if err != nil || !strings.Contains(d.Detail, "stub") {
		t.Fatalf("decision %+v, %v", d, err)
	}
	dls, err := ListDeadLetters(ctx, b.js, b.cfg, DeadLetterFilter{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("%d dead letters, %v", len(dls), err)
	}
	var stub DeadLetterStub
	if err := json.Unmarshal(dls[0].Data, &stub); err != nil {
		t.Fatal(err)
	}
	if dl := dls[0]; !dl.Stub || dl.Reason != audit.ReasonTooLarge || dl.OriginalReason != audit.ReasonInvalidEvent ||
		dl.Header.Get("X-Trace") != "t-1" || stub.Size != len(body) || stub.Head != string(body[:stubHeadBytes]) {
		t.Errorf("dead letter %+v, stub %+v", dl, stub)
	}
}
