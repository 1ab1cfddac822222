package main

import (
	"context"
	"errors"
	"net"
	"net/http"
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, worker.NewMetrics(reg)
}

// opsServer serves /metrics, /healthz (the process runs) and /readyz
// (connected to NATS, streams and consumer in place, rules loaded, consuming).
type opsServer struct {
	srv  *http.Server
	addr string
}

func startOps(listen string, reg *prometheus.Registry, connected, ready func() bool, log *zap.Logger) (*opsServer, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !connected():
			http.Error(w, "not connected to NATS", http.StatusServiceUnavailable)
		case !ready():
			http.Error(w, "not consuming yet", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ready\n"))
		}
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	o := &opsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String()}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops_server_failed", zap.Error(err))
		}
	}()
	log.Info("ops_listening", zap.String("addr", o.addr))
	return o, nil
}

func (o *opsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = o.srv.Shutdown(ctx)
}
