package streams

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

// dlqBundle is a dead-letter stream and an intake with no worker: what
// RedriveDeadLetters and PurgeDeadLetters work on.
type dlqBundle struct {
	t   *testing.T
	js  jetstream.JetStream
	cfg Config
}

func setupDLQ(t *testing.T) dlqBundle {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	cfg := testConfig()
	cfg.MaxMsgSize = 4 << 10
	if _, err := EnsureTopology(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	return dlqBundle{t: t, js: js, cfg: cfg}
}

// deadLetter stores a dead letter as the worker would, with the given
// original subject ("" for none), and returns its sequence.
func (b dlqBundle) deadLetter(reason, original string, extra nats.Header, body string) uint64 {
	b.t.Helper()
	h := nats.Header{HeaderReason: {reason}, HeaderAttempts: {"3"}, "X-Trace": {"t-" + reason}}
	if original != "" {
		h.Set(HeaderOriginalSubject, original)
	}
	for k, v := range extra {
		h[k] = v
	}
	ack, err := b.js.PublishMsg(context.Background(), &nats.Msg{Subject: b.cfg.DLQSubject + "." + reason, Header: h, Data: []byte(body)})
	if err != nil {
		b.t.Fatal(err)
	}
	return ack.Sequence
}

// seqs are the sequences a stream holds.
func (b dlqBundle) seqs(stream string) []uint64 {
	b.t.Helper()
	ctx := context.Background()
	st, err := b.js.Stream(ctx, stream)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	var out []uint64
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if _, err := st.GetMsg(ctx, seq); err == nil {
			out = append(out, seq)
		}
	}
	return out
}

// TestRedriveDeadLetters: only a dead letter whose original subject is an
// intake subject and whose body is not a stub is republished, with its
// original headers and without the Remediator-* and Nats-* ones, and it
// leaves the dead-letter stream; the others stay. A dry run changes
// nothing.
func TestRedriveDeadLetters(t *testing.T) {
	t.Parallel()
	b := setupDLQ(t)
	ctx := context.Background()
	intake := b.cfg.IntakeSubject("HC.KMS")
	good := b.deadLetter("exhausted", intake, nats.Header{
		"ce-id": {"e-1"}, "remediator-rule": {"lower-case"}, HeaderOriginalMsgID: {"m-1"},
		// a server-interpreted header that would fail the intake publish if it were kept
		"Nats-Expected-Stream": {b.cfg.DLQStream},
	}, `{"id":"e-1"}`)
	notIntake := b.deadLetter("exhausted", "remediation.audit.remediated", nil, "{}")
	stub := b.deadLetter("exhausted", intake, nats.Header{HeaderBody: {BodyStub}}, "{}")
	noSubject := b.deadLetter("exhausted", "", nil, "{}")
	other := b.deadLetter("not_found", intake, nil, "{}")
	want := []Redriven{
		{Sequence: good, Subject: intake},
		{Sequence: notIntake, Subject: "remediation.audit.remediated", Skipped: RedriveNotIntake},
		{Sequence: stub, Subject: intake, Skipped: RedriveStub},
		{Sequence: noSubject, Skipped: RedriveNoSubject},
	}
	f := DeadLetterFilter{Reason: audit.ReasonExhausted}

	got, err := RedriveDeadLetters(ctx, b.js, b.cfg, f, true)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("dry run: %+v, %v; want %+v", got, err, want)
	}
	if n := len(b.seqs(b.cfg.DLQStream)); n != 5 || len(b.seqs(b.cfg.Stream)) != 0 {
		t.Fatalf("dry run: %d dead letters left, intake %v", n, b.seqs(b.cfg.Stream))
	}

	got, err = RedriveDeadLetters(ctx, b.js, b.cfg, f, false)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("redrive: %+v, %v; want %+v", got, err, want)
	}
	if left := b.seqs(b.cfg.DLQStream); !slices.Equal(left, []uint64{notIntake, stub, noSubject, other}) {
		t.Errorf("dead letters left: %v", left)
	}
	st, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, intake)
	if err != nil {
		t.Fatalf("nothing redriven to %s: %v", intake, err)
	}
	var kept []string
	for k := range m.Header {
		kept = append(kept, k)
	}
	slices.Sort(kept)
	if !slices.Equal(kept, []string{"Nats-Msg-Id", "X-Trace", "ce-id"}) || string(m.Data) != `{"id":"e-1"}` ||
		m.Header.Get(jetstream.MsgIDHeader) != fmt.Sprintf("redrive:%s:%d", b.cfg.DLQStream, good) {
		t.Errorf("redriven message: headers %v, body %q", m.Header, m.Data)
	}
}

// TestRedriveKeepsWhatTheIntakeRefused: a dead letter leaves the
// dead-letter stream only after the intake acknowledged it; one the
// intake refuses stays, and the redrive stops with an error.
func TestRedriveKeepsWhatTheIntakeRefused(t *testing.T) {
	t.Parallel()
	b := setupDLQ(t)
	intake := b.cfg.IntakeSubject("HC.KMS")
	small := b.deadLetter("exhausted", intake, nil, "{}")
	big := b.deadLetter("exhausted", intake, nil, strings.Repeat("x", 8<<10)) // over the intake's 4 KiB
	after := b.deadLetter("exhausted", intake, nil, "{}")
	got, err := RedriveDeadLetters(context.Background(), b.js, b.cfg, DeadLetterFilter{}, false)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("redrive %d", big)) {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(got, []Redriven{{Sequence: small, Subject: intake}}) {
		t.Errorf("redriven %+v", got)
	}
	if left := b.seqs(b.cfg.DLQStream); !slices.Equal(left, []uint64{big, after}) {
		t.Errorf("dead letters left %v, want %d and %d", left, big, after)
	}
	if n := len(b.seqs(b.cfg.Stream)); n != 1 {
		t.Errorf("%d messages in the intake, want 1", n)
	}
}

// TestListAndPurgeDeadLetters: the filter selects by reason and by the
// time stored; purging by reason deletes only those, the zero filter all.
func TestListAndPurgeDeadLetters(t *testing.T) {
	t.Parallel()
	b := setupDLQ(t)
	ctx := context.Background()
	b.deadLetter("exhausted", "", nil, "{}")
	time.Sleep(10 * time.Millisecond)
	since := time.Now()
	late := b.deadLetter("exhausted", "", nil, "{}")
	b.deadLetter("not_found", "", nil, "{}")
	list := func(f DeadLetterFilter) []uint64 {
		t.Helper()
		dls, err := ListDeadLetters(ctx, b.js, b.cfg, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, d := range dls {
			out = append(out, d.Sequence)
		}
		return out
	}
	if got := list(DeadLetterFilter{Reason: audit.ReasonExhausted, Since: since}); !slices.Equal(got, []uint64{late}) {
		t.Errorf("exhausted since: %v, want [%d]", got, late)
	}
	if got := list(DeadLetterFilter{}); len(got) != 3 {
		t.Errorf("all: %v", got)
	}
	if n, err := PurgeDeadLetters(ctx, b.js, b.cfg, DeadLetterFilter{Reason: audit.ReasonExhausted}); n != 2 || err != nil {
		t.Errorf("purge exhausted: %d, %v", n, err)
	}
	if got := list(DeadLetterFilter{}); len(got) != 1 {
		t.Errorf("after purging exhausted: %v", got)
	}
	if n, err := PurgeDeadLetters(ctx, b.js, b.cfg, DeadLetterFilter{}); n != 1 || err != nil {
		t.Errorf("purge: %d, %v", n, err)
	}
	if got := list(DeadLetterFilter{}); len(got) != 0 {
		t.Errorf("after purge: %v", got)
	}
}
