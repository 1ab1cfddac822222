package action

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// TraceHeaders returns the W3C trace-context headers (traceparent,
// tracestate) of the span in ctx, for a provider to send with its cloud
// call; empty when ctx carries no sampled span.
func TraceHeaders(ctx context.Context) map[string]string {
	h := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, h)
	return h
}
