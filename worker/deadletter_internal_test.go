package worker

import (
	"testing"

	"github.com/nats-io/nats.go"
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
		{1 << 20, 1 << 20, 1<<20 - deadLetterRoom},
		{64 << 10, 1 << 20, 64<<10 - deadLetterRoom},
		{8 << 20, 1 << 20, 1 << 20},
		{0, 1 << 20, 1 << 20},        // not connected: as configured
		{10 << 10, 1 << 20, 5 << 10}, // tiny max_payload: half of it
	} {
		if got := intakeMaxMsgSize(tc.maxPayload, tc.configured); got != tc.want {
			t.Errorf("intakeMaxMsgSize(%d, %d) = %d, want %d", tc.maxPayload, tc.configured, got, tc.want)
		}
	}
}

func TestAuditRecordIDOfEventsWithoutID(t *testing.T) {
	t.Parallel()
	a := NewAudit(nil, Config{})
	d1 := Decision{Outcome: DeadLettered, Sequence: 1}
	d2 := Decision{Outcome: DeadLettered, Sequence: 2}
	if a.recordID(d1) == a.recordID(d2) {
		t.Error("two undecodable events share an audit record id")
	}
	e1 := Decision{Outcome: DeadLettered, EventID: "e", EventSource: "s", Sequence: 1}
	e2 := e1
	e2.Sequence = 9 // a redelivery or a republished copy: the same event
	if a.recordID(e1) != a.recordID(e2) {
		t.Error("an event with an id has an audit record id that depends on its sequence")
	}
}
