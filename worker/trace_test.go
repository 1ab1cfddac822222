package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

// The trace the test events carry (W3C traceparent).
const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

// tracedEvent is a CTS trace about keyOff that carries traceID, its
// parent span parentID.
func tracedEvent(id string) events.Raw {
	r := ctsEvent(id, keyOff)
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	m["traceparent"] = "00-" + traceID + "-" + parentID + "-01"
	r.Body, _ = json.Marshal(m)
	return r
}

// TestTraceContinuesToTheCloud: an event carrying a traceparent gets a
// child span for its rule, and every cloud call carries that trace.
func TestTraceContinuesToTheCloud(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.stop()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := worker.New(ctx, b.cfg, worker.Deps{JetStream: b.js, Rules: b.set, Actions: b.reg, Recorder: b.mem, Tracer: tp})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b.publish(tracedEvent("traced-1"), events.Binary)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := b.mem.Wait(wctx, func([]audit.Decision) bool { return len(b.mem.Final()["traced-1"]) == 1 }); err != nil {
		t.Fatal("no outcome")
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != traceID || s.Parent().SpanID().String() != parentID || !strings.Contains(s.Name(), "enable_key_rotation") {
		t.Errorf("span %s trace %s parent %s", s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	calls := b.sim.Calls()
	if len(calls) == 0 {
		t.Fatal("no cloud calls")
	}
	for _, c := range calls {
		if !strings.Contains(c.Trace, traceID) || !strings.Contains(c.Trace, s.SpanContext().SpanID().String()) {
			t.Errorf("call %s carried traceparent %q, want the rule span's", c.Op, c.Trace)
		}
	}
}

// TestTraceWithoutTracerContinues: with no tracer provider no span is
// opened, and the cloud calls still carry the trace the event named.
func TestTraceWithoutTracerContinues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(tracedEvent("traced-2"), events.Structured)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.mem.Wait(ctx, func([]audit.Decision) bool { return len(b.mem.Final()["traced-2"]) == 1 }); err != nil {
		t.Fatal("no outcome")
	}
	calls := b.sim.Calls()
	if len(calls) == 0 {
		t.Fatal("no cloud calls")
	}
	for _, c := range calls {
		if want := "00-" + traceID + "-" + parentID + "-01"; c.Trace != want {
			t.Errorf("call %s carried traceparent %q, want %q", c.Op, c.Trace, want)
		}
	}
}
