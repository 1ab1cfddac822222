package streams

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/remediator/remediator/worker/audit"
)

func TestParseHeaderBlockKeepsParseableLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, block string
		want        nats.Header
		lossy       bool
	}{
		{"clean", "NATS/1.0\r\nA: 1\r\nB:2\r\n\r\n", nats.Header{"A": {"1"}, "B": {"2"}}, false},
		{"line without colon", "NATS/1.0\r\nA: 1\r\ngarbage\r\nce-id: x\r\n\r\n", nats.Header{"A": {"1"}, "ce-id": {"x"}}, true},
		{"empty key", "NATS/1.0\r\n: v\r\nA: 1\r\n\r\n", nats.Header{"A": {"1"}}, true},
		{"no version line", "A: 1\r\n\r\n", nats.Header{"A": {"1"}}, false},
		{"repeated key", "NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n", nats.Header{"A": {"1", "2"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, lossy := parseHeaderBlock([]byte(tc.block))
			if lossy != tc.lossy || len(h) != len(tc.want) {
				t.Fatalf("got %v lossy=%v, want %v lossy=%v", h, lossy, tc.want, tc.lossy)
			}
			for k, vs := range tc.want {
				if len(h[k]) != len(vs) || h[k][0] != vs[0] {
					t.Errorf("%s: got %v, want %v", k, h[k], vs)
				}
			}
		})
	}
}

func TestIntakeMaxMsgSizeLeavesRoomForDeadLetterHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxPayload int64
		configured int32
		want       int32
	}{
		{1 << 20, 1 << 20, 1<<20 - DeadLetterRoom},
		{64 << 10, 1 << 20, 64<<10 - DeadLetterRoom},
		{8 << 20, 1 << 20, 1 << 20},
		{0, 1 << 20, 1 << 20},        // not connected: as configured
		{10 << 10, 1 << 20, 5 << 10}, // tiny max_payload: half of it
	} {
		if got := IntakeMaxMsgSize(tc.maxPayload, tc.configured); got != tc.want {
			t.Errorf("IntakeMaxMsgSize(%d, %d) = %d, want %d", tc.maxPayload, tc.configured, got, tc.want)
		}
	}
}

// TestRedriveOnlyToIntakeSubjects: redrive publishes only to a subject the
// worker would build; a dead letter's header is data, and a long or odd
// subject could get the connection closed.
func TestRedriveOnlyToIntakeSubjects(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	for subject, want := range map[string]bool{
		cfg.IntakeSubject("HC.KMS"):                       true,
		cfg.IntakeSubject(strings.Repeat("a", 5000)):      true, // bounded by IntakeSubject
		"remediation.events." + strings.Repeat("a", 5000): false,
		"remediation.events.a.b":                          false,
		"remediation.events.":                             false,
		"remediation.audit.remediated":                    false,
		"remediation.events.a b":                          false,
	} {
		if got := intakeSubject(cfg, subject); got != want {
			t.Errorf("intakeSubject(%.60q) = %t, want %t", subject, got, want)
		}
	}
}

// TestParseDeadLetter: the Remediator-* headers become fields; the event
// id comes from ce-id, else from a structured body; a stub says so.
func TestParseDeadLetter(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 8, 15, 30, 123, time.UTC)
	m := &jetstream.RawStreamMsg{Subject: "remediation.dlq.too_large", Sequence: 7, Time: at, Data: []byte(`{"id":"from-body"}`), Header: nats.Header{
		HeaderReason: {"too_large"}, HeaderOriginalReason: {"exhausted"}, HeaderBody: {BodyStub}, HeaderErrorCode: {"APIGW.0308"},
		HeaderRule: {"r"}, HeaderAction: {"a"}, HeaderAttempts: {"4"}, HeaderOriginalSubject: {"remediation.events.x"},
		HeaderOriginalStream: {"REMEDIATION_EVENTS"}, HeaderOriginalSequence: {"42"},
		HeaderFailedAt: {at.Format(time.RFC3339Nano)}, HeaderFirstFailure: {at.Add(-time.Minute).Format(time.RFC3339Nano)},
	}}
	d := ParseDeadLetter(m)
	if d.Sequence != 7 || d.Reason != audit.ReasonTooLarge || d.OriginalReason != audit.ReasonExhausted || !d.Stub ||
		d.Code != "APIGW.0308" || d.Rule != "r" || d.Action != "a" || d.Attempts != 4 || d.EventID != "from-body" ||
		d.OriginalSubject != "remediation.events.x" || d.OriginalStream != "REMEDIATION_EVENTS" || d.OriginalSequence != 42 ||
		!d.FailedAt.Equal(at) || !d.FirstFailure.Equal(at.Add(-time.Minute)) || !d.Stored.Equal(at) {
		t.Errorf("parsed %+v", d)
	}
	m.Header.Set("ce-id", "from-header")
	m.Header.Del(HeaderBody)
	m.Header.Set(HeaderAttempts, "many")
	if d := ParseDeadLetter(m); d.EventID != "from-header" || d.Stub || d.Attempts != 0 {
		t.Errorf("ce-id, no stub, bad attempts: %+v", d)
	}
	m.Header.Del("ce-id")
	m.Data = []byte("not json")
	if d := ParseDeadLetter(m); d.EventID != "" {
		t.Errorf("event id %q of a body that is not JSON", d.EventID)
	}
}

// TestRedriveHeaderStripsWorkerAndServerHeaders: a redriven event carries
// its original headers only, with a Nats-Msg-Id of its own.
func TestRedriveHeaderStripsWorkerAndServerHeaders(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	d := DeadLetter{Sequence: 9, Header: nats.Header{
		"ce-id": {"e"}, "X-Trace": {"t"}, HeaderReason: {"exhausted"}, HeaderOriginalMsgID: {"m"}, "remediator-rule": {"r"},
		jetstream.MsgIDHeader: {"dlq:REMEDIATION_EVENTS:3"}, "Nats-Expected-Stream": {"REMEDIATION_DLQ"},
	}}
	h := redriveHeader(cfg, d)
	want := nats.Header{"ce-id": {"e"}, "X-Trace": {"t"}, jetstream.MsgIDHeader: {"redrive:REMEDIATION_DLQ:9"}}
	if len(h) != len(want) {
		t.Fatalf("header %v, want %v", h, want)
	}
	for k, v := range want {
		if h.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v[0])
		}
	}
}
