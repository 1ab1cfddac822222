// Package embedded runs a nats-server with JetStream inside the process,
// for `remediator run` without a server, the demo and tests.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Options configure the embedded server.
type Options struct {
	// StoreDir holds JetStream data. Required: the server's default is a
	// shared temporary directory.
	StoreDir string
	// Listen is "host:port" for client connections; "" means no listener
	// (in-process connections only).
	Listen string
	// SyncAlways fsyncs every write (what production clusters should use);
	// off, the server syncs every two minutes.
	SyncAlways bool
	// MaxStore caps JetStream file storage in bytes (0: server default).
	MaxStore int64
	// Name is the server name; required in a cluster.
	Name string
	// Username and Password, when set, are required of clients (tests of
	// authenticated connections).
	Username, Password string
	// Cluster joins a cluster: this node's route listen address, and the
	// route URLs of every node (its own included).
	Cluster *Cluster
	// Logger receives the server's log lines (see serverLog); nil: none.
	Logger *zap.Logger
}

// ListenError is a client address the server could not listen on.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return "embedded nats: " + e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// Cluster is a node's cluster membership.
type Cluster struct {
	Name   string
	Listen string   // host:port for routes
	Routes []string // nats-route://host:port of every node
}

// Server is a running embedded nats-server.
type Server struct {
	srv  *server.Server
	lock *storeLock
}

// startTimeout bounds the wait for a server to accept connections.
const startTimeout = 10 * time.Second

// Start starts the server and waits until it accepts connections. The
// store directory is locked while the server runs: a second server on it
// fails at once with an *InUseError. A client address already taken fails
// at once too, with a *ListenError.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded nats: store: %w", err)
	}
	lock, err := lockStore(o.StoreDir)
	if err != nil {
		return nil, err
	}
	s, err := start(o)
	if err != nil {
		lock.release()
		return nil, err
	}
	return &Server{srv: s, lock: lock}, nil
}

func start(o Options) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "remediator-embedded",
		JetStream:          true,
		StoreDir:           o.StoreDir,
		JetStreamMaxStore:  o.MaxStore,
		JetStreamMaxMemory: 64 << 20,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         2 << 20,
	}
	if o.SyncAlways {
		opts.SyncAlways = true
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen address %q: %w", o.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("embedded nats: listen port %q: %w", port, err)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		} else if err := probeListen(o.Listen); err != nil {
			return nil, err
		}
	}
	if o.Name != "" {
		opts.ServerName = o.Name
	}
	opts.Username, opts.Password = o.Username, o.Password
	if o.Cluster != nil {
		if err := clusterOptions(opts, o.Cluster); err != nil {
			return nil, err
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	log := newServerLog(o.Logger)
	s.SetLoggerV2(log, o.Logger != nil && o.Logger.Core().Enabled(zap.DebugLevel), false, false)
	go s.Start()
	if err := waitReady(s, log, startTimeout); err != nil {
		stopFailed(s)
		return nil, err
	}
	return s, nil
}

// stopFailed shuts down a server that failed to start, waiting a few
// seconds at most: after a fatal line (which, with the server's own
// logger, would have ended the process) some of its goroutines may never
// return.
func stopFailed(s *server.Server) {
	done := make(chan struct{})
	go func() {
		s.Shutdown()
		s.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// probeListen tries the client address before the server does: the
// server's accept loop only logs a failed listen and leaves Start waiting.
// (Another process may still take the address in between; the server's
// fatal log line then ends the wait, see waitReady.)
func probeListen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &ListenError{Addr: addr, Err: err}
	}
	return ln.Close()
}

// waitReady waits until s accepts connections, a fatal line is logged, or
// limit passes.
func waitReady(s *server.Server, log *serverLog, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case msg := <-log.fatal:
			return fmt.Errorf("embedded nats: %s", msg)
		default:
		}
		if s.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
		if time.Now().After(deadline) {
			if last := log.last(); last != "" {
				return fmt.Errorf("embedded nats: not ready after %s; the server's last error: %s", limit, last)
			}
			return fmt.Errorf("embedded nats: not ready after %s", limit)
		}
	}
}

// Connect opens a client connection to the server, in-process when it has
// no listener.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(s.srv), nats.Name("remediator")}, opts...)
	return nats.Connect("", opts...)
}

// ClientURL is the server's client URL, or "" when it does not listen.
func (s *Server) ClientURL() string {
	if s.srv.Addr() == nil {
		return ""
	}
	return s.srv.ClientURL()
}

// Shutdown stops the server and waits until it has stopped, so its store
// directory can be removed.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.lock.release()
}

// clusterOptions sets the cluster listen address and routes.
func clusterOptions(opts *server.Options, c *Cluster) error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("embedded nats: cluster listen %q: %w", c.Listen, err)
	}
	opts.Cluster.Name = c.Name
	opts.Cluster.Host = host
	if opts.Cluster.Port, err = strconv.Atoi(port); err != nil {
		return fmt.Errorf("embedded nats: cluster port %q: %w", port, err)
	}
	opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	return nil
}
