package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
)

// newRegistry is the process's Prometheus registry: Go and process
// collectors plus the worker's metrics.
func newRegistry() (*prometheus.Registry, *worker.Metrics) {
	reg := newBaseRegistry()
	return reg, worker.NewMetrics(reg)
}

// newBaseRegistry is a registry with the Go and process collectors only,
// for a command that adds its own metrics (ingest).
func newBaseRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// opsServer serves /metrics, /healthz (the process runs) and /readyz
// (connected to NATS, streams and consumer in place, rules loaded, consuming).
type opsServer struct {
	srv  *http.Server
	addr string
}

// opsOptions say where the ops server listens and whether it serves
// Go's profiles (/debug/pprof/) beside the metrics.
type opsOptions struct {
	listen string
	pprof  bool
	// approvals, when set, serves the approvals API (approvals_http.go).
	approvals *approvalsAPI
}

func startOps(o opsOptions, reg *prometheus.Registry, connected, ready func() bool, log *zap.Logger) (*opsServer, error) {
	return serveOps(o, reg, log, readyCheck{"not connected to NATS", connected}, readyCheck{"not consuming yet", ready})
}

// readyCheck is one condition of /readyz and what it answers when false.
type readyCheck struct {
	unready string
	ok      func() bool
}

// serveOps serves /metrics, /healthz and /readyz (200 when every check
// holds, else 503 with the first failing check's text) on listen.
func serveOps(o opsOptions, reg *prometheus.Registry, log *zap.Logger, checks ...readyCheck) (*opsServer, error) {
	mux := http.NewServeMux()
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if o.approvals != nil {
		o.approvals.routes(mux)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, c := range checks {
			if !c.ok() {
				http.Error(w, c.unready, http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, err
	}
	srv := &opsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String()}
	go func() {
		if err := srv.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops_server_failed", zap.Error(err))
		}
	}()
	log.Info("ops_listening", zap.String("addr", srv.addr), zap.Bool("pprof", o.pprof))
	return srv, nil
}

func (o *opsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = o.srv.Shutdown(ctx)
}
