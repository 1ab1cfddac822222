package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/streams"
)

// These tests run `remediator run` as a process against nats-server as a
// process of its own, and look only at what an operator sees: the intake,
// dead-letter and audit streams, `remediator dlq`, and the logs.

// startRemediator runs the worker against ns with short retries, and
// waits for its consumer. No event here reaches a cloud API: the endpoint
// is a closed port.
func startRemediator(t *testing.T, ns *natsProc) (jetstream.JetStream, *syncBuffer) {
	t.Helper()
	_, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", "http://127.0.0.1:1",
		"--max-deliver", "3", "--ack-wait", "2s", "--retry-base", "50ms", "--retry-max", "200ms", "--shutdown-timeout", "1s")
	js := natsJS(t, ns)
	waitFor(t, "the worker's consumer", func() bool {
		_, err := js.Consumer(context.Background(), "REMEDIATION_EVENTS", "remediator")
		return err == nil
	})
	return js, logs
}

func natsJS(t *testing.T, ns *natsProc) jetstream.JetStream {
	t.Helper()
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamMsgCount is the number of messages a stream holds (0 when it does
// not exist).
func streamMsgCount(js jetstream.JetStream, stream string) int {
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		return 0
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return 0
	}
	return int(info.State.Msgs)
}

// settledFigures are the counts a test reports before and after a fix.
type settledFigures struct{ deadLetters, audits, intake int }

func (f settledFigures) String() string {
	return fmt.Sprintf("%d dead letters, %d audit records, %d left in the intake", f.deadLetters, f.audits, f.intake)
}

// waitSettledFigures waits until want dead letters and want audit records
// exist and the intake is empty, or until limit; it returns what it saw.
func waitSettledFigures(js jetstream.JetStream, want int, limit time.Duration) settledFigures {
	deadline := time.Now().Add(limit)
	for {
		f := settledFigures{streamMsgCount(js, "REMEDIATION_DLQ"), streamMsgCount(js, "REMEDIATION_AUDIT"), streamMsgCount(js, "REMEDIATION_EVENTS")}
		if f.deadLetters >= want && f.audits >= want && f.intake == 0 || time.Now().After(deadline) {
			return f
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streamHeaders returns the headers and body of every message of a stream.
func streamMessages(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// bigUndecodable is an event body of n bytes that is not a CloudEvent.
func bigUndecodable(i, n int) []byte {
	b := []byte(strings.Repeat("x", n))
	copy(b, fmt.Sprintf("not-a-cloudevent-%03d:", i))
	return b
}

// TestEventNearMaxPayloadSettles: events of max_payload minus a few bytes
// are either refused by the intake stream with a clear error (the
// publisher knows) or stored, dead-lettered and audited; events of the
// largest size the intake accepts are dead-lettered whole. Before the fix
// the intake stored them, their dead-letter copy (body plus the
// Remediator-* headers) exceeded max_payload on every delivery and they
// never settled.
func TestEventNearMaxPayloadSettles(t *testing.T) {
	t.Parallel()
	const maxPayload, events = 64 << 10, 4
	ns := startNATSProcess(t, natsProcOptions{MaxPayload: maxPayload})
	js, logs := startRemediator(t, ns)
	st, err := js.Stream(context.Background(), "REMEDIATION_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	largest := min(int(st.CachedInfo().Config.MaxMsgSize), maxPayload) - 64 // what the intake says it takes
	stored, refused := 0, 0
	for i := range events {
		size := maxPayload - 8
		if i%2 == 1 {
			size = largest
		}
		_, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "remediation.events.big", Data: bigUndecodable(i, size)})
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			stored++
		case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
			refused++
		default:
			t.Fatalf("publish %d: %v (neither stored nor refused by the stream)", i, err)
		}
	}
	f := waitSettledFigures(js, stored, 10*time.Second)
	t.Logf("%d events of %d and %d bytes: %d refused by the stream, %d stored; %s", events, maxPayload-8, largest, refused, stored, f)
	if f.deadLetters != stored || f.audits != stored || f.intake != 0 {
		t.Fatalf("%d stored events: %s\n%s", stored, f, tail(logs.String(), 3000))
	}
	for _, m := range streamMessages(t, js, "REMEDIATION_DLQ") {
		if len(m.Data) == largest && m.Header.Get(streams.HeaderBody) == "" {
			continue
		}
		t.Errorf("dead letter %d: %d bytes, body %q: want the original of %d bytes, whole", m.Sequence, len(m.Data), m.Header.Get(streams.HeaderBody), largest)
	}
	if !strings.Contains(logs.String(), `"intake_size_limit"`) {
		t.Error("no intake_size_limit log line")
	}
}

// TestDeadLetterStubEndToEnd: the intake stream was created earlier with a
// larger MaxMsgSize and already holds events of max_payload minus a few
// bytes; their dead letters cannot be stored whole, so they are stored
// with a stub body (reason too_large, headers kept), audited, and
// `remediator dlq show` prints the stub.
func TestDeadLetterStubEndToEnd(t *testing.T) {
	t.Parallel()
	const maxPayload, events, size = 64 << 10, 3, 64<<10 - 8
	ns := startNATSProcess(t, natsProcOptions{MaxPayload: maxPayload})
	js := natsJS(t, ns)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "REMEDIATION_EVENTS", Subjects: []string{"remediation.events.>"},
		Retention: jetstream.WorkQueuePolicy, MaxMsgSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i := range events {
		h := nats.Header{"X-Trace": {fmt.Sprintf("trace-%d", i)}}
		body := bigUndecodable(i, size-len("NATS/1.0\r\nX-Trace: trace-0\r\n\r\n")) // header block and body: size bytes
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "remediation.events.big", Header: h, Data: body}); err != nil {
			t.Fatal(err)
		}
		bodies[h.Get("X-Trace")] = body
	}
	js, logs := startRemediator(t, ns)
	f := waitSettledFigures(js, events, 10*time.Second)
	t.Logf("%d events of about %d bytes stored before the worker started: %s", events, size, f)
	if f.deadLetters != events || f.audits != events || f.intake != 0 {
		t.Fatalf("%s\n%s", f, tail(logs.String(), 3000))
	}
	for _, m := range streamMessages(t, js, "REMEDIATION_DLQ") {
		body := bodies[m.Header.Get("X-Trace")]
		if body == nil {
			t.Fatalf("dead letter %d lost its X-Trace header: %v", m.Sequence, m.Header)
		}
		var stub struct {
			Size   int    `json:"size"`
			SHA256 string `json:"sha256"`
			Head   string `json:"head"`
		}
		if err := json.Unmarshal(m.Data, &stub); err != nil {
			t.Fatalf("dead letter %d: body is not a stub: %v", m.Sequence, err)
		}
		sum := sha256.Sum256(body)
		if stub.Size != len(body) || stub.SHA256 != hex.EncodeToString(sum[:]) || !strings.HasPrefix(string(body), stub.Head) || stub.Head == "" {
			t.Errorf("dead letter %d: stub %+v does not describe the original", m.Sequence, stub)
		}
		if m.Header.Get(streams.HeaderReason) != "too_large" || m.Header.Get(streams.HeaderOriginalReason) != "invalid_event" {
			t.Errorf("dead letter %d: reason %q, original reason %q", m.Sequence, m.Header.Get(streams.HeaderReason), m.Header.Get(streams.HeaderOriginalReason))
		}
	}
	dlqShowsStub(t, ns, 1)
}

// dlqShowsStub runs `remediator dlq show SEQ` and checks it prints a stub.
func dlqShowsStub(t *testing.T, ns *natsProc, seq int) {
	t.Helper()
	cmd, out := startChild(t, "dlq", "show", fmt.Sprint(seq), "--nats-url", ns.URL())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dlq show: %v\n%s", err, out.String())
	}
	for _, want := range []string{streams.HeaderBody + ": stub", `"sha256":`, "body: a stub"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dlq show %d: no %q in\n%s", seq, want, out.String())
		}
	}
}

// TestUndecodableEventsEachAudited: distinct events that cannot be decoded
// (no id) each get a dead letter and an audit record. Before the fix they
// shared one audit Nats-Msg-Id and the duplicate window kept one record.
func TestUndecodableEventsEachAudited(t *testing.T) {
	t.Parallel()
	const events = 5
	ns := startNATSProcess(t, natsProcOptions{})
	js, logs := startRemediator(t, ns)
	for i := range events {
		body := fmt.Sprintf(`{"specversion":"1.0","id":"truncated-%d","source":"HC.KMS","type":"KMS:Clo`, i)
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "remediation.events.bad", Data: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	f := waitSettledFigures(js, events, 8*time.Second)
	t.Logf("%d distinct undecodable events: %s", events, f)
	if f.deadLetters != events || f.audits != events {
		t.Errorf("want %d dead letters and %d audit records: %s\n%s", events, events, f, tail(logs.String(), 2000))
	}
}

// TestForgedRemediatorHeadersStripped: a publisher's own Remediator-*
// headers, in any case, do not reach the dead letter, so `dlq list` shows
// the worker's values only.
func TestForgedRemediatorHeadersStripped(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	js, _ := startRemediator(t, ns)
	h := nats.Header{"Remediator-Error-Code": {"FORGED-CODE"}, "remediator-rule": {"forged-rule"},
		"REMEDIATOR-ATTEMPTS": {"99"}, "Remediator-Original-Subject": {"forged.subject"}, "X-Keep": {"kept"}}
	if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: "remediation.events.hdr", Header: h, Data: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	if f := waitSettledFigures(js, 1, 8*time.Second); f.deadLetters != 1 {
		t.Fatalf("%s", f)
	}
	m := streamMessages(t, js, "REMEDIATION_DLQ")[0]
	forged := 0
	for k, vs := range m.Header {
		for _, v := range vs {
			if strings.Contains(strings.ToLower(v), "forged") || v == "99" {
				forged++
				t.Errorf("forged header survived: %s: %s", k, v)
			}
		}
	}
	if m.Header.Get("X-Keep") != "kept" {
		t.Errorf("X-Keep lost: %v", m.Header)
	}
	cmd, out := startChild(t, "dlq", "list", "--nats-url", ns.URL())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dlq list: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "FORGED") || strings.Contains(out.String(), "forged") {
		t.Errorf("dlq list shows a forged value:\n%s", out.String())
	}
	t.Logf("4 forged Remediator-* headers published: %d survive into the dead letter", forged)
}
