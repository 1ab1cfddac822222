package sweep

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a replica's view of the last sweep it finished.
type Metrics struct {
	resources *prometheus.GaugeVec
	finished  prometheus.Gauge
	took      prometheus.Gauge
	sweeps    prometheus.Counter
}

// NewMetrics registers the sweep's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "remediator", Name: "posture_resources",
			Help: "Resources the last sweep this replica finished found, by check and status (compliant, non_compliant, unknown, not_applicable)."},
			[]string{"check", "status"}),
		finished: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "remediator", Name: "sweep_last_finished_timestamp_seconds",
			Help: "When the last sweep this replica ran finished (Unix time)."}),
		took: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "remediator", Name: "sweep_duration_seconds",
			Help: "How long the last sweep this replica ran took."}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "remediator", Name: "sweeps_total",
			Help: "Sweeps this replica finished."}),
	}
	reg.MustRegister(m.resources, m.finished, m.took, m.sweeps)
	return m
}

// Observe sets the gauges from a finished report.
func (m *Metrics) Observe(r *Report) {
	for _, s := range r.Summary {
		m.resources.WithLabelValues(s.Check, string(Compliant)).Set(float64(s.Compliant))
		m.resources.WithLabelValues(s.Check, string(NonCompliant)).Set(float64(s.NonCompliant))
		m.resources.WithLabelValues(s.Check, string(Unknown)).Set(float64(s.Unknown))
		m.resources.WithLabelValues(s.Check, string(NotApplicable)).Set(float64(s.NotApplicable))
	}
	m.finished.Set(float64(r.Finished.UnixNano()) / 1e9)
	m.took.Set(r.Finished.Sub(r.Started).Seconds())
	m.sweeps.Inc()
}
