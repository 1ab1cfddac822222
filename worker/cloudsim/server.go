package cloudsim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Server serves a simulator over HTTP.
type Server struct {
	srv   *http.Server
	url   string
	conns atomic.Int64
}

// Start serves sim on addr (e.g. "127.0.0.1:0") in the background.
func Start(addr string, sim *Simulator) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String()}
	s.srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return s, nil
}

// Conns is how many connections the server has accepted.
func (s *Server) Conns() int64 { return s.conns.Load() }

// URL is the base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Close stops the server, waiting for calls in progress until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
