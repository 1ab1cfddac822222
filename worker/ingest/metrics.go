package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the metrics of `remediator ingest`.
type Metrics struct {
	// Accepted counts events acknowledged by the intake stream.
	Accepted prometheus.Counter
	// Rejected counts refused requests by reason (a closed set: method,
	// credentials_missing, unauthenticated, signature_missing,
	// signature_legacy, signature_invalid, timestamp_outside_window,
	// too_many_unauthenticated, read_timeout, too_large, unreadable,
	// invalid_event, source_not_allowed, type_not_allowed, unavailable).
	Rejected *prometheus.CounterVec
}

// NewMetrics registers the ingest metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Accepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "remediator", Name: "ingest_accepted_total",
			Help: "Events received over HTTP and acknowledged by the intake stream."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "ingest_rejected_total",
			Help: "HTTP requests refused by ingest, by reason."}, []string{"reason"}),
	}
	reg.MustRegister(m.Accepted, m.Rejected)
	return m
}
