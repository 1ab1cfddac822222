package notify

import "github.com/prometheus/client_golang/prometheus"

// Result is what became of one delivery of a record to a sink: the closed
// set of the result label.
type Result string

// Results.
const (
	Sent     Result = "sent"     // the sink answered 2xx; acked
	Filtered Result = "filtered" // the sink's filters left it out; acked
	Rejected Result = "rejected" // a 4xx other than 408/429; terminated
	Invalid  Result = "invalid"  // not a readable audit record; terminated
	Retried  Result = "retried"  // the sink failed or is backing off; redelivered later
)

// Metrics count deliveries by sink and result.
type Metrics struct {
	deliveries *prometheus.CounterVec
	failing    *prometheus.GaugeVec
}

// NewMetrics registers the notifier's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "notifications_total",
			Help: "Audit records handled by each notification sink, by result (sent, filtered, rejected, invalid, retried)."},
			[]string{"sink", "result"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "remediator", Name: "notify_sink_failing",
			Help: "1 while a notification sink fails and its records wait for it to come back, else 0."},
			[]string{"sink"}),
	}
	reg.MustRegister(m.deliveries, m.failing)
	return m
}

func (m *Metrics) count(sink string, r Result) {
	if m != nil {
		m.deliveries.WithLabelValues(sink, string(r)).Inc()
	}
}

func (m *Metrics) setFailing(sink string, failing bool) {
	if m == nil {
		return
	}
	v := 0.0
	if failing {
		v = 1
	}
	m.failing.WithLabelValues(sink).Set(v)
}
