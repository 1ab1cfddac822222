package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/approval"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
	"github.com/remediator/remediator/worker/guard"
	"github.com/remediator/remediator/worker/ledger"
	"github.com/remediator/remediator/worker/streams"
)

// Worker pulls events from the shared durable consumer and handles them
// with a bounded pool.
type Worker struct {
	cfg      Config
	js       jetstream.JetStream
	cons     jetstream.Consumer
	rules    atomic.Pointer[rules.Set]
	actions  *action.Registry
	rec      audit.Recorder
	log      *zap.Logger
	rnd      func(int64) int64
	counts   counters
	guard    writeGuard // the blast-radius guard (worker/guard)
	tracer   trace.Tracer
	tracing  bool // a tracer provider was given: rules open spans
	ledger   records
	metrics  *Metrics
	obs      reads
	handlers *handlers // the pool of handlers, while Run runs
	ready    atomic.Bool
	// advisories is the consumer of captured max-deliveries advisories.
	advisories jetstream.Consumer
	// steps read and check each event before the rules (handle.go).
	steps []eventStep
	// dead makes the dead letters (streams.DeadLetterer).
	dead deadLetters
	// pipeline runs one matched rule's action (pipeline.go).
	pipeline step
	// approvals keeps the plans waiting for approval (approval.go).
	approvals *approval.Store
	// acks feeds the goroutines that DoubleAck recorded messages while
	// Run runs; nil: settle DoubleAcks itself.
	acks chan pendingAck
	// decisionFields holds the slices decision lines are built in
	// (logDecision); zap's cores encode or copy the fields, none keeps the
	// slice.
	decisionFields sync.Pool
}

// Deps are what a worker is built from.
type Deps struct {
	JetStream jetstream.JetStream
	Rules     *rules.Set
	Actions   *action.Registry
	Recorder  audit.Recorder // nil: decisions are only logged
	Logger    *zap.Logger    // nil: no logging; its cores must not keep a Write's fields slice (zap's own encode or copy it)
	Metrics   *Metrics       // nil: metrics go to a private registry
	// Tracer, when set, traces each rule's action, continuing the event's
	// traceparent; nil: no tracing.
	Tracer trace.TracerProvider
}

// New ensures the streams and consumer exist and returns a worker.
func New(ctx context.Context, cfg Config, d Deps) (*Worker, error) {
	if d.JetStream == nil || d.Rules == nil || d.Actions == nil {
		return nil, errors.New("worker: JetStream, Rules and Actions are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cons, err := streams.EnsureTopology(ctx, d.JetStream, cfg.Streams())
	if err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, js: d.JetStream, cons: cons, actions: d.Actions, rec: d.Recorder, log: d.Logger, rnd: jitter}
	if w.rec == nil {
		w.rec = audit.RecorderFunc(func(context.Context, audit.Decision) error { return nil })
	}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	w.dead = streams.NewDeadLetterer(cfg.Streams(), streams.DeadLetterDeps{JetStream: d.JetStream, Recorder: w.rec, Logger: w.log,
		FirstFailure: func(ctx context.Context, stream string, seq uint64) time.Time {
			return w.ledger.FirstFailure(ctx, stream, seq, time.Time{}) // zero: not known
		}})
	tp := d.Tracer
	if w.tracing = tp != nil; !w.tracing {
		tp = noop.NewTracerProvider()
	}
	w.tracer = tp.Tracer("github.com/remediator/remediator/worker")
	if w.metrics = d.Metrics; w.metrics == nil {
		w.metrics = NewMetrics(prometheus.NewRegistry())
	}
	if w.advisories, err = d.JetStream.Consumer(ctx, cfg.AdvisoryStream, cfg.Consumer); err != nil {
		return nil, fmt.Errorf("advisories consumer: %w", err)
	}
	kv, err := d.JetStream.KeyValue(ctx, cfg.LedgerBucket)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	w.ledger = ledger.New(kv, cfg.AckWait)
	ckv, err := d.JetStream.KeyValue(ctx, cfg.ControlBucket)
	if err != nil {
		return nil, fmt.Errorf("control bucket: %w", err)
	}
	lkv, err := d.JetStream.KeyValue(ctx, cfg.LimitsBucket)
	if err != nil {
		return nil, fmt.Errorf("limits bucket: %w", err)
	}
	w.guard = guard.New(ckv, lkv, guard.Config{SlotTTL: cfg.AckWait, Cooldown: cfg.CircuitCooldown,
		GlobalWrites: cfg.GlobalWriteLimit, GlobalPer: cfg.GlobalWriteWindow}, w.log)
	akv, err := d.JetStream.KeyValue(ctx, cfg.ApprovalsBucket)
	if err != nil {
		return nil, fmt.Errorf("approvals bucket: %w", err)
	}
	w.approvals = approval.NewStore(akv, nil)
	obs := coalesce.New(cfg.CoalesceFor, time.Now)
	obs.Waited = func(what string) { w.metrics.waits.WithLabelValues(what).Inc() }
	obs.Park = func() func() { // a waiting handler is replaced in the pool Run starts
		if w.handlers == nil {
			return func() {}
		}
		return w.handlers.park()
	}
	obs.Probe = func(ctx context.Context) (uint64, error) {
		st, err := d.JetStream.Stream(ctx, cfg.Stream)
		if err != nil {
			return 0, err
		}
		return st.CachedInfo().State.LastSeq, nil
	}
	w.obs = obs
	w.rules.Store(d.Rules)
	w.steps, w.pipeline = w.newEventSteps(), w.newPipeline()
	return w, nil
}

// Ready reports whether the worker is consuming (its streams and consumer
// exist and its rules are loaded).
func (w *Worker) Ready() bool { return w.ready.Load() }

// Config returns the effective configuration.
func (w *Worker) Config() Config { return w.cfg }

// Rules returns the rule set in use.
func (w *Worker) Rules() *rules.Set { return w.rules.Load() }

// SetRules swaps the rule set atomically; messages already being handled
// finish with the set they started with.
func (w *Worker) SetRules(s *rules.Set) { w.rules.Store(s) }

// Run consumes until ctx ends, then shuts down: it stops pulling, lets
// in-flight work finish within ShutdownTimeout, hands back (Naks) what is
// unfinished and returns nil. It returns an error only if consuming cannot
// start.
func (w *Worker) Run(ctx context.Context) error {
	it, err := w.cons.Messages(streams.PullOptions(w.cfg.Prefetch)...)
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", w.cfg.Stream, w.cfg.Consumer, err)
	}
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var stopping atomic.Bool
	// The ackers stop once every handler has ended (no handler can hand
	// over an ack after that), before the final count is logged.
	stopAckers := sync.OnceFunc(w.startAckers())
	defer stopAckers()
	var wg sync.WaitGroup
	msgs := make(chan jetstream.Msg) // unbuffered: a message waits in the pull buffer, not here
	wg.Add(1)
	go func() {
		defer wg.Done()
		streams.Feed(it, msgs, w.pullError)
	}()
	hs := &handlers{concurrency: w.cfg.Concurrency, maxParked: 2 * w.cfg.Concurrency}
	hs.spawn = func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				if stopping.Load() {
					w.handBack(workCtx, m) // not started: hand it to another replica now
				} else {
					w.process(workCtx, m, &stopping)
				}
				if hs.surplus() {
					return
				}
			}
		}()
	}
	w.handlers = hs
	hs.start()
	wg.Add(3)
	go func() {
		defer wg.Done()
		w.runAdvisories(ctx, w.advisories)
	}()
	go func() {
		defer wg.Done()
		w.janitor(ctx)
	}()
	go func() {
		defer wg.Done()
		w.guard.Watch(ctx)
	}()
	w.logIntakeLimit()
	w.ready.Store(true)
	defer w.ready.Store(false)
	w.log.Info("worker_started", zap.String("stream", w.cfg.Stream), zap.String("consumer", w.cfg.Consumer),
		zap.Int("concurrency", w.cfg.Concurrency), zap.Int("rules", len(w.rules.Load().Rules())))
	<-ctx.Done()
	stopping.Store(true)
	it.Drain()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.ShutdownTimeout):
		w.log.Warn("shutdown_timeout", zap.Duration("timeout", w.cfg.ShutdownTimeout))
		cancelWork()
		<-done
	}
	stopAckers()
	w.log.Info("worker_stopped", zap.Any("outcomes", w.Counts()))
	return nil
}

// startAckers starts the goroutines that wait for messages' records and
// DoubleAck them (see confirm), and returns the function that stops them
// once no handler can send any more: it waits for the acks already handed
// over.
//
// Each acker holds its message for two round trips (the records, then the
// ack), so the ackers bound the rate at their number over that time: with
// two per handler, as there once were, a worker at concurrency 4 was held
// to about 7,000 events/s over loopback TCP (8 ackers, 1.1 ms), with both
// processes partly idle. There are two for each message of the pull
// window (which is never smaller than the handlers), at most maxAckers
// (ackers that wait are parked goroutines; a handler waits for one only
// when all are busy).
func (w *Worker) startAckers() (stop func()) {
	w.acks = make(chan pendingAck, w.cfg.Concurrency)
	var ackers sync.WaitGroup
	for range min(maxAckers, 2*w.cfg.Prefetch) {
		ackers.Add(1)
		go func() {
			defer ackers.Done()
			for a := range w.acks {
				w.confirm(a)
			}
		}()
	}
	return func() {
		close(w.acks)
		ackers.Wait()
		w.acks = nil
	}
}

// maxAckers bounds the acker pool whatever --prefetch says: 1,024 parked
// goroutines cover about 1,024 / 2 ms = 500,000 events/s.
const maxAckers = 1024

// pullError logs what streams.Feed could not read.
func (w *Worker) pullError(err error) {
	if errors.Is(err, jetstream.ErrNoHeartbeat) {
		w.log.Debug("pull_heartbeat_missed") // the iterator asks again
		return
	}
	w.log.Warn("pull_failed", zap.Error(err))
}

// process handles one message and settles it.
func (w *Worker) process(ctx context.Context, m jetstream.Msg, stopping *atomic.Bool) {
	meta, err := m.Metadata()
	if err != nil {
		w.log.Error("bad_metadata", zap.Error(err))
		_ = m.Term() // not a JetStream message: cannot be retried or dead-lettered
		return
	}
	w.obs.Received(meta.Sequence.Stream)
	stop := keepAlive(m, w.cfg.AckWait/3)
	dl := w.deliveryOf(ctx, meta)
	base := audit.Decision{Event: audit.Event{Subject: m.Subject(), Sequence: meta.Sequence.Stream, Attempt: dl.attempt, Arrived: meta.Timestamp}}
	if id := m.Headers().Get("ce-id"); id != "" {
		base.EventID = id
	}
	var v verdict
	if dl.waits > 0 {
		ctx = coalesce.WithWaited(ctx, dl.worked)
	}
	if dl.attempt > w.cfg.MaxDeliver && !dl.uncertain {
		v = verdict{failed: base, failure: unsettled(dl)}
	} else {
		v = w.handle(ctx, m, base)
	}
	stop()
	w.settle(m, meta, dl, v, stopping.Load())
}

func itoa(n int) string { return strconv.Itoa(n) }
