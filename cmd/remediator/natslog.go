package main

import (
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// natsOptions are the options of every client connection the commands
// open: its name, endless reconnection, and handlers that log the
// connection's events through zap. Without the handlers nats.go writes
// async errors (slow consumer, headers it cannot decode) to stderr as
// plain text, which breaks a JSON log. server is the address as it may be
// logged (see redactURL). onClosed, if not nil, runs after the closed
// connection is logged.
func natsOptions(log *zap.Logger, name, server string, onClosed func()) []nats.Option {
	log = log.With(zap.String("connection", name), zap.String("server", server))
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			fields := []zap.Field{zap.String("error", err.Error())}
			if sub != nil {
				fields = append(fields, zap.String("subject", sub.Subject))
				if n, derr := sub.Dropped(); derr == nil && n > 0 {
					fields = append(fields, zap.Int("dropped", n))
				}
			}
			log.Error("nats_async_error", fields...)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // our own close: part of every clean exit
				log.Debug("nats_disconnected")
				return
			}
			log.Warn("nats_disconnected", zap.String("error", err.Error()))
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats_reconnected") }),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				log.Warn("nats_closed", zap.String("error", err.Error()))
			} else {
				log.Debug("nats_closed") // our own close
			}
			if onClosed != nil {
				onClosed()
			}
		}),
	}
}

// redactURL is a NATS URL list as it may be logged: user names go too,
// since a token can be given as one (nats://TOKEN@host).
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unreadable URL)"
			continue
		}
		u.User = nil
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// connLogger logs a tool command's connection events as JSON lines on
// its stderr.
func connLogger(cmd *cobra.Command) *zap.Logger {
	log, _ := newLogger(cmd.ErrOrStderr(), "json") // json is a known format: no error
	return log
}
