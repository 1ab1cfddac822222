package worker_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// TestDeadLetterReadsBackWhatTheWorkerWrote: a dead letter the worker
// wrote, parsed by ListDeadLetters, gives back the reason, attempts,
// event id and where the original was.
func TestDeadLetterReadsBackWhatTheWorkerWrote(t *testing.T) {
	t.Parallel()
	b := setup(t)
	subject := b.cfg.Streams().IntakeSubject("HC.KMS")
	b.publishRaw(subject, nats.Header{"ce-id": {"bad-1"}, "X-Trace": {"t-1"}}, []byte("not json"))
	b.waitFinal(1)
	dls, err := streams.ListDeadLetters(context.Background(), b.js, b.cfg.Streams(), streams.DeadLetterFilter{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("%d dead letters, %v", len(dls), err)
	}
	d := dls[0]
	if d.Reason != audit.ReasonInvalidEvent || d.Attempts != 1 || d.EventID != "bad-1" || d.Stub ||
		d.OriginalSubject != subject || d.OriginalStream != b.cfg.Stream || d.OriginalSequence != 1 ||
		d.Subject != b.cfg.DLQSubject+".invalid_event" || string(d.Data) != "not json" || d.Header.Get("X-Trace") != "t-1" {
		t.Errorf("dead letter %+v", d)
	}
	if d.FailedAt.IsZero() || d.FirstFailure.IsZero() || d.FirstFailure.After(d.FailedAt) || d.Error == "" {
		t.Errorf("failed at %s, first failure %s, error %q", d.FailedAt, d.FirstFailure, d.Error)
	}
	if got, err := streams.ShowDeadLetter(context.Background(), b.js, b.cfg.Streams(), d.Sequence); err != nil || got.Reason != d.Reason || got.EventID != d.EventID {
		t.Errorf("ShowDeadLetter: %+v, %v", got, err)
	}
}
