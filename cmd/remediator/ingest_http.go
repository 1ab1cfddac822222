package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
)

// startIngestOps serves ingest's /metrics, /healthz and /readyz on
// listen (--http), apart from the CloudEvents listener: that one is
// exposed to the event buses and takes a POST on any path, so a separate
// address keeps the metrics private and no path can collide. /readyz is
// 503 while the connection cannot publish (reconnecting or closed). An
// empty listen serves nothing; the returned stop is always safe to call.
func startIngestOps(listen string, reg *prometheus.Registry, c *natsConn, log *zap.Logger) (stop func(), err error) {
	if listen == "" {
		return func() {}, nil
	}
	ops, err := serveOps(opsOptions{listen: listen}, reg, log, readyCheck{"not connected to NATS: cannot publish", c.connected})
	if err != nil {
		return nil, err
	}
	return ops.close, nil
}

// untilClosed returns a context that ends with ctx or when c's main
// connection is closed, and a function that, in the second case, adds to
// the serving error that the connection was closed.
//
// A closed connection ends the process (non-zero exit) rather than being
// replaced in place: nats.go closes only for causes a new connection meets
// again or that a restart handles as well (a protocol error such as a
// control line over the server's limit, credentials refused twice, the
// server closing it); replacing it would swap the JetStream handle under
// requests in flight and redo the topology check, which a fresh process
// does anyway; and the supervisors ingest runs under (systemd
// Restart=on-failure, Kubernetes) already restart with back-off. Until
// then requests get 503 and the bus retries them.
func untilClosed(ctx context.Context, c *natsConn, log *zap.Logger) (context.Context, func(error) error) {
	ctx, cancel := context.WithCancel(ctx)
	lost := make(chan struct{})
	closed := c.closed
	go func() {
		select {
		case <-closed:
			if ctx.Err() != nil { // our own close at shutdown
				return
			}
			log.Error("nats_connection_closed", zap.String("server", c.server),
				zap.String("note", "nats.go will not reopen this connection: ingest exits non-zero so that its supervisor restarts it"))
			close(lost)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func(err error) error {
		cancel()
		select {
		case <-lost:
			return errors.Join(errors.New("the NATS connection was closed and nats.go will not reopen it"), err)
		default:
			return err
		}
	}
}

// intakeMaxMsgBytes is the largest message the intake stream stores,
// headers included: its MaxMsgSize, at most the server's max_payload.
// The stream may predate this process, so its own configuration is read.
func intakeMaxMsgBytes(ctx context.Context, c *natsConn, cfg worker.Config) (int64, error) {
	limit := c.nc.MaxPayload()
	st, err := c.js.Stream(ctx, cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	if m := int64(st.CachedInfo().Config.MaxMsgSize); m > 0 && (limit <= 0 || m < limit) {
		limit = m
	}
	return limit, nil
}
