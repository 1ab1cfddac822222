package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// backoff is how long run waits between attempts to reach NATS at
// start-up: first, doubling, at most max, each with ±20% jitter so that
// replicas started together do not knock together.
type backoff struct {
	first, max time.Duration
}

// startupBackoff is run's: a pod whose NATS is not up yet waits
// (healthy, not ready) instead of exiting into a crash loop.
func startupBackoff() backoff { return backoff{first: 250 * time.Millisecond, max: 10 * time.Second} }

func (b backoff) delay(attempt int) time.Duration {
	d := b.first
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// openWithRetry calls open until it succeeds, ctx ends or the error is
// one waiting will not cure. Each failure is logged with the server (as
// redactURL gives it) and the cause.
func openWithRetry(ctx context.Context, log *zap.Logger, server, what string, b backoff, open func() error) error {
	for attempt := 1; ; attempt++ {
		err := open()
		if err == nil {
			if attempt > 1 {
				log.Info("nats_connected", zap.String("server", server), zap.String("connection", what), zap.Int("attempts", attempt))
			}
			return nil
		}
		if !retryableConnectError(err) {
			return err
		}
		d := b.delay(attempt)
		log.Warn("nats_connect_retry", zap.String("server", server), zap.String("connection", what), zap.Int("attempt", attempt),
			zap.Duration("retry_in", d), zap.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// retryableConnectError: anything but a refused identity or a local file
// that cannot be read (creds, nkey, TLS), which are configuration errors
// better reported at once than waited on.
func retryableConnectError(err error) bool {
	var pe *fs.PathError
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired), errors.As(err, &pe):
		return false
	}
	return true
}

// openRetrying opens c's main and records connections (see openRecords),
// retrying with backoff while NATS cannot be reached. It returns the
// records' JetStream.
func openRetrying(ctx context.Context, log *zap.Logger, c *natsConn) (jetstream.JetStream, error) {
	if err := openWithRetry(ctx, log, c.server, "remediator", startupBackoff(), c.open); err != nil {
		return nil, err
	}
	var records jetstream.JetStream
	err := openWithRetry(ctx, log, c.server, "remediator-records", startupBackoff(), func() (err error) {
		records, err = c.openRecords()
		return err
	})
	return records, err
}

// dialRecorder is a net.Dialer that remembers its last error: when no
// server can be dialled nats.Connect says only ErrNoServers, not why
// (refused, unreachable, a name that does not resolve).
type dialRecorder struct {
	net.Dialer
	mu   sync.Mutex
	last error
}

// Dial implements nats.CustomDialer.
func (r *dialRecorder) Dial(network, address string) (net.Conn, error) {
	c, err := r.Dialer.Dial(network, address)
	if err != nil {
		r.mu.Lock()
		r.last = err
		r.mu.Unlock()
	}
	return c, err
}

// explain adds the last dial error to ErrNoServers.
func (r *dialRecorder) explain(err error) error {
	if !errors.Is(err, nats.ErrNoServers) {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return err
	}
	return fmt.Errorf("%w (%v)", err, r.last)
}
