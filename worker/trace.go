package worker

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// eventContext continues the trace the event carries in the CloudEvents
// distributed-tracing extension (traceparent, tracestate).
func eventContext(ctx context.Context, env *events.Envelope) context.Context {
	ext := env.Event.Extensions()
	if _, ok := ext["traceparent"]; !ok {
		return ctx // nothing to continue (tracestate alone is ignored)
	}
	c := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if v, ok := ext[k]; ok {
			c[k] = fmt.Sprint(v)
		}
	}
	return propagation.TraceContext{}.Extract(ctx, c)
}

// startRule opens the span of one rule's action; the providers send its
// trace context with their cloud calls.
func (w *Worker) startRule(ctx context.Context, d audit.Decision) (context.Context, trace.Span) {
	return w.tracer.Start(ctx, "remediate "+d.Action, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("remediator.rule", d.Rule), attribute.String("remediator.action", d.Action),
		attribute.String("cloudevents.event_id", d.EventID), attribute.String("cloudevents.event_source", d.EventSource),
		attribute.String("cloudevents.event_type", d.EventType)))
}

func endRule(span trace.Span, out ran, err *action.Error) {
	if err != nil {
		span.SetStatus(codes.Error, string(err.Reason))
		span.SetAttributes(attribute.String("remediator.reason", string(err.Reason)))
	} else {
		span.SetAttributes(attribute.String("remediator.outcome", string(out.outcome)))
	}
	span.End()
}
