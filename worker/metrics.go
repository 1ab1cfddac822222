package worker

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/remediator/remediator/worker/audit"
)

// Metrics are the worker's Prometheus metrics, in the remediator
// namespace, with bounded labels only.
type Metrics struct {
	events    *prometheus.CounterVec
	actions   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	latency   prometheus.Histogram
	retries   *prometheus.CounterVec
	conflicts prometheus.Counter
	rateWaits prometheus.Counter
	waits     *prometheus.CounterVec
	// Reloads counts rule reloads by result (ok, rejected).
	Reloads *prometheus.CounterVec
	// RuleChanges counts rules added, removed and changed by reloads.
	RuleChanges *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "events_total",
			Help: "Decisions about events, by event form (actiontrail, config, cts, finding, other) and outcome."}, []string{"form", "outcome"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "actions_total",
			Help: "Action outcomes by provider, action, outcome and reason."}, []string{"provider", "action", "outcome", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "remediator", Name: "action_duration_seconds",
			Help: "Time spent in one action (reads, write, verify).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"action"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "remediator", Name: "event_latency_seconds",
			Help: "Time from an event's arrival in the intake stream to its final decision.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 20)}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "retries_total",
			Help: "Attempts handed back for a retry, by reason."}, []string{"reason"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "remediator", Name: "ledger_conflicts_total",
			Help: "Attempts delayed because another replica held the event or the resource."}),
		rateWaits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "remediator", Name: "rate_limit_waits_total",
			Help: "Attempts delayed by an open circuit (a write limit was exceeded)."}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "waits_total",
			Help: "Waits in the process: for a read of the same resource in flight here (read), or for a lease held by another delivery (lease)."}, []string{"for"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "rule_reloads_total",
			Help: "Rule reloads by result (ok, rejected)."}, []string{"result"}),
		RuleChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "remediator", Name: "rule_changes_total",
			Help: "Rules added, removed or changed by accepted reloads, by change (added, removed, changed)."}, []string{"change"}),
	}
	reg.MustRegister(m.events, m.actions, m.duration, m.latency, m.retries, m.conflicts, m.rateWaits, m.waits, m.Reloads, m.RuleChanges)
	return m
}

// observe records one decision.
func (m *Metrics) observe(d audit.Decision, arrived time.Time) {
	form := "other"
	if d.Finding != nil {
		form = d.Finding.Form
	}
	m.events.WithLabelValues(form, string(d.Outcome)).Inc()
	if d.Action != "" {
		provider, _, _ := strings.Cut(d.Action, ".")
		m.actions.WithLabelValues(provider, d.Action, string(d.Outcome), string(audit.Known(d.Reason))).Inc()
	}
	switch {
	case d.Outcome == audit.Retrying:
		m.retries.WithLabelValues(string(audit.Known(d.Reason))).Inc()
		if d.Reason == audit.ReasonBusy {
			m.conflicts.Inc()
		}
		if d.Reason == audit.ReasonCircuitOpen {
			m.rateWaits.Inc()
		}
	case d.Final && !arrived.IsZero():
		m.latency.Observe(time.Since(arrived).Seconds())
	}
}

// RegisterDLQDepth adds a gauge of the dead-letter stream's size, read
// from the server at each scrape.
func RegisterDLQDepth(reg prometheus.Registerer, js jetstream.JetStream, cfg Config) {
	cfg = cfg.withDefaults()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "remediator", Name: "dlq_messages",
		Help: "Messages in the dead-letter stream (-1 when it cannot be read)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, cfg.DLQStream)
		if err != nil {
			return -1
		}
		info, err := st.Info(ctx)
		if err != nil {
			return -1
		}
		return float64(info.State.Msgs)
	}))
}

// RegisterState adds gauges read at each scrape: whether the worker is
// ready, the intake consumer's backlog (pending: not yet delivered;
// ack_pending: delivered, not yet acknowledged) and pause, and the open
// circuits. The consumer's are -1 when it cannot be read; one scrape reads
// the consumer once.
func (w *Worker) RegisterState(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "remediator", Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("ready", "1 while the worker consumes (its streams and consumer exist, its rules are loaded), else 0.", func() float64 {
			if w.Ready() {
				return 1
			}
			return 0
		}),
		gauge("circuits_open", "Circuits of the blast-radius guard open now, as this replica sees them.", func() float64 { return float64(w.guard.OpenCircuits()) }),
		&consumerState{cons: w.cons,
			pending:    prometheus.NewDesc("remediator_consumer_pending", "Intake messages not yet delivered to any replica (-1 when the consumer cannot be read).", nil, nil),
			ackPending: prometheus.NewDesc("remediator_consumer_ack_pending", "Intake messages delivered and not yet acknowledged (-1 when the consumer cannot be read).", nil, nil),
			paused:     prometheus.NewDesc("remediator_consumer_paused", "1 while remediation is paused (remediator control pause), else 0 (-1 when the consumer cannot be read).", nil, nil),
		},
	)
}

// consumerState collects the intake consumer's gauges from one read of
// its info.
type consumerState struct {
	cons                        jetstream.Consumer
	pending, ackPending, paused *prometheus.Desc
}

func (c *consumerState) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.paused
}

func (c *consumerState) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, ackPending, paused := -1.0, -1.0, -1.0
	if info, err := c.cons.Info(ctx); err == nil {
		pending, ackPending, paused = float64(info.NumPending), float64(info.NumAckPending), 0
		if info.Paused {
			paused = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, pending)
	ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, ackPending)
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused)
}
