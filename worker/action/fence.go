package action

import "context"

// A Fence proves, right before a write is sent, that the caller still
// holds the leases the write runs under, with time left on them to cover
// the write's own timeout. A worker that stalled (a GC pause, SIGSTOP, a
// frozen VM, a partition from NATS while the cloud stays reachable) may
// have lost them to another replica that wrote meanwhile; the fence is
// what stops its late write. It returns nil, or a *Error that says why the
// write must not be sent.
type Fence func(ctx context.Context) error

type fenceKey struct{}

// WithFence makes f the fence of every write made under ctx.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// BeforeWrite runs ctx's fence. Providers call it for every write, after
// the call's pacing wait and right before the SDK sends it, so no wait
// comes between the proof and the write. Without a fence it returns nil.
func BeforeWrite(ctx context.Context) error {
	f, _ := ctx.Value(fenceKey{}).(Fence)
	if f == nil {
		return nil
	}
	return f(ctx)
}
