// Package embedded runs a nats-server with JetStream inside the process,
// for `remediator run` without a server, the demo and tests.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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
}

// Cluster is a node's cluster membership.
type Cluster struct {
	Name   string
	Listen string   // host:port for routes
	Routes []string // nats-route://host:port of every node
}

// Server is a running embedded nats-server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
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
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return &Server{srv: s}, nil
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
