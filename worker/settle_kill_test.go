package worker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// fakeDeadLetters is the streams side of the dead letters, failing with
// err; calls says what it was asked to do, in order.
type fakeDeadLetters struct {
	err   error
	calls *[]string
	got   streams.Original
}

func (f *fakeDeadLetters) DeadLetter(_ context.Context, o streams.Original, d audit.Decision, fail *action.Error, _ []audit.Decision) (audit.Decision, error) {
	*f.calls = append(*f.calls, "dead-letter")
	f.got = o
	d.Outcome, d.Reason = audit.DeadLettered, fail.Reason
	return d, f.err
}

func (f *fakeDeadLetters) MoveExhausted(context.Context, []byte) (audit.Decision, bool, error) {
	return audit.Decision{}, false, errors.New("not used")
}

// settledMsg is a delivered message that notes how it was settled; any
// other use panics (the embedded Msg is nil).
type settledMsg struct {
	jetstream.Msg
	calls *[]string
}

func (m settledMsg) Subject() string      { return "remediation.events.HC_KMS" }
func (m settledMsg) Headers() nats.Header { return nats.Header{"ce-id": {"e-1"}} }
func (m settledMsg) Data() []byte         { return []byte("{}") }
func (m settledMsg) NakWithDelay(time.Duration) error {
	*m.calls = append(*m.calls, "nak")
	return nil
}

func (m settledMsg) TermWithReason(reason string) error {
	*m.calls = append(*m.calls, "term "+reason)
	return nil
}

// TestKillTermsOnlyAfterTheDeadLetter: settle gives up on a permanent
// failure by dead-lettering the message and only then Terming it; when the
// dead letter fails (publish or record), the message is Naked, never
// Termed, so it is dead-lettered again on its redelivery.
func TestKillTermsOnlyAfterTheDeadLetter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"dead-lettered", nil, []string{"dead-letter", "term invalid_params"}},
		{"dead letter failed", errors.New("dead-letter publish: no responders"), []string{"dead-letter", "nak"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls []string
			dead := &fakeDeadLetters{err: tc.err, calls: &calls}
			w := &Worker{cfg: DefaultConfig().withDefaults(), dead: dead, log: zap.NewNop(), rnd: jitter, metrics: NewMetrics(prometheus.NewRegistry())}
			meta := &jetstream.MsgMetadata{Stream: "REMEDIATION_EVENTS", Sequence: jetstream.SequencePair{Stream: 7}}
			fail := action.Errorf(action.Permanent, action.ReasonInvalidParams, "", "key_id is empty")
			v := verdict{failure: fail, failed: audit.Decision{Event: audit.Event{EventID: "e-1", Sequence: 7, Attempt: 1}}}
			w.settle(settledMsg{calls: &calls}, meta, delivery{attempt: 1}, v, false)
			if !slices.Equal(calls, tc.want) {
				t.Errorf("calls %q, want %q", calls, tc.want)
			}
			if o := dead.got; o.Subject != "remediation.events.HC_KMS" || o.Header.Get("ce-id") != "e-1" || string(o.Data) != "{}" ||
				o.Stream != "REMEDIATION_EVENTS" || o.Seq != 7 {
				t.Errorf("dead-lettered %+v, want the delivered message", o)
			}
			if n := w.Counts()[audit.DeadLettered]; (tc.err == nil) != (n == 1) {
				t.Errorf("%d dead_lettered decisions counted", n)
			}
		})
	}
}
