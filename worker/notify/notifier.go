package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Options configure a Notifier. Zero values take the defaults.
type Options struct {
	Stream      string        // the audit stream (REMEDIATION_AUDIT)
	Subject     string        // the audit subjects' prefix (remediation.audit)
	RetryBase   time.Duration // first delay after a sink failed (1s)
	RetryMax    time.Duration // longest delay (1m)
	Timeout     time.Duration // one HTTP request (10s)
	Concurrency int           // requests in flight per sink (4)
	Logger      *zap.Logger
	Metrics     *Metrics
	Client      *http.Client // default: one with no timeout of its own (Timeout bounds each request)
}

func (o Options) withDefaults() Options {
	if o.Stream == "" {
		o.Stream = "REMEDIATION_AUDIT"
	}
	if o.Subject == "" {
		o.Subject = "remediation.audit"
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Minute
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	return o
}

// Notifier delivers audit records to its sinks, each through its own
// durable consumer.
type Notifier struct {
	o     Options
	sinks []*sink
}

// sink is a configured sink with its secrets and its back-off gate.
type sink struct {
	cfg  SinkConfig
	sec  secrets
	gate gate
}

// ConsumerName is the durable consumer of a sink on the audit stream.
func ConsumerName(sink string) string { return "notify-" + sink }

// New resolves every sink's URL and token. Errors name the sinks and
// where their secrets were looked for, never a value.
func New(cfgs []SinkConfig, o Options) (*Notifier, error) {
	o = o.withDefaults()
	n := &Notifier{o: o}
	var errs []error
	for _, c := range cfgs {
		sec, err := c.resolve()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n.sinks = append(n.sinks, &sink{cfg: c, sec: sec, gate: gate{base: o.RetryBase, max: o.RetryMax}})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return n, nil
}

// Run creates or updates each sink's consumer and delivers until ctx
// ends. A sink's consumer that cannot be made fails Run before any
// delivery starts.
func (n *Notifier) Run(ctx context.Context, js jetstream.JetStream) error {
	conss := make([]jetstream.Consumer, len(n.sinks))
	for i, s := range n.sinks {
		c, err := n.ensureConsumer(ctx, js, s.cfg)
		if err != nil {
			return err
		}
		conss[i] = c
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(n.sinks))
	for i, s := range n.sinks {
		wg.Go(func() { errc <- n.consume(ctx, s, conss[i]) })
		n.o.Logger.Info("notify_sink_started", zap.String("sink", s.cfg.Name), zap.String("type", s.cfg.Type),
			zap.String("consumer", ConsumerName(s.cfg.Name)))
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ensureConsumer creates the sink's durable consumer, or updates its
// filter; an existing consumer keeps its start (deliver policy), so a
// restart resumes where the last run stopped.
func (n *Notifier) ensureConsumer(ctx context.Context, js jetstream.JetStream, c SinkConfig) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       ConsumerName(c.Name),
		Description:   "remediator notifications to sink " + c.Name,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait(n.o.Timeout),
		MaxDeliver:    -1, // no attempt limit: a sink that is down gets everything when it is back
		MaxAckPending: 1000,
	}
	if c.Deliver == "all" {
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	prefix := strings.TrimSuffix(n.o.Subject, ".")
	for _, o := range c.Outcomes {
		cc.FilterSubjects = append(cc.FilterSubjects, prefix+"."+string(o))
	}
	if len(cc.FilterSubjects) == 0 {
		cc.FilterSubject = prefix + ".>"
	}
	if cur, err := js.Consumer(ctx, n.o.Stream, cc.Durable); err == nil {
		cc.DeliverPolicy = cur.CachedInfo().Config.DeliverPolicy
		cc.OptStartSeq = cur.CachedInfo().Config.OptStartSeq
		cc.OptStartTime = cur.CachedInfo().Config.OptStartTime
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, n.o.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("sink %s: consumer %s on stream %s: %w (is the audit stream there? `remediator run` creates it)",
			c.Name, cc.Durable, n.o.Stream, err)
	}
	return cons, nil
}

// ackWait is how long a record delivered to a notifier may stay unsettled
// before it is redelivered (to this notifier or, when it died, the next):
// a pulled record waits behind at most one request per goroutine, then
// takes its own, so two timeouts and a margin.
func ackWait(timeout time.Duration) time.Duration { return 2*timeout + 5*time.Second }

// consume pulls the sink's records and delivers them with Concurrency
// goroutines until ctx ends.
func (n *Notifier) consume(ctx context.Context, s *sink, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(n.o.Concurrency))
	if err != nil {
		return fmt.Errorf("sink %s: consume: %w", s.cfg.Name, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	var wg sync.WaitGroup
	for range n.o.Concurrency {
		wg.Go(func() {
			for {
				m, err := it.Next()
				if err != nil {
					if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						return
					}
					n.o.Logger.Warn("notify_pull_failed", zap.String("sink", s.cfg.Name), zap.Error(err))
					continue
				}
				n.settle(ctx, s, m, n.deliver(ctx, s, m))
			}
		})
	}
	wg.Wait()
	return nil
}

// outcome is what deliver made of a message, for settle.
type outcome struct {
	result Result
	rec    *record
	delay  time.Duration // Retried: when to try again
	err    error
}

// deliver sends one record to the sink, or says why not.
func (n *Notifier) deliver(ctx context.Context, s *sink, m jetstream.Msg) outcome {
	rec, err := parseRecord(m.Data())
	if err != nil {
		return outcome{result: Invalid, err: err}
	}
	if !s.cfg.wants(rec) {
		return outcome{result: Filtered, rec: rec}
	}
	if wait := s.gate.wait(time.Now()); wait > 0 {
		return outcome{result: Retried, rec: rec, delay: wait}
	}
	var h http.Header
	var body []byte
	if s.cfg.Type == TypeSlack {
		h, body = slackRequest(rec)
	} else {
		h, body = webhookRequest(rec, s.sec.token)
	}
	rctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	err = post(rctx, n.o.Client, s.cfg.Name, s.sec.url, h, body)
	cancel()
	var f *Failure
	switch {
	case err == nil:
		return outcome{result: Sent, rec: rec}
	case errors.As(err, &f) && f.Permanent:
		return outcome{result: Rejected, rec: rec, err: err}
	}
	return outcome{result: Retried, rec: rec, err: err}
}

// settle acks, terminates or redelivers the message: the one place the
// notifier decides.
func (n *Notifier) settle(ctx context.Context, s *sink, m jetstream.Msg, o outcome) {
	log := n.o.Logger.With(zap.String("sink", s.cfg.Name))
	if o.rec != nil {
		log = log.With(zap.String("record_id", o.rec.ID), zap.String("outcome", string(o.rec.Data.Outcome)), zap.String("rule", o.rec.Data.Rule))
	}
	var err error
	switch o.result {
	case Sent:
		if s.gate.ok() {
			n.o.Metrics.setFailing(s.cfg.Name, false)
			log.Info("notify_sink_recovered")
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = m.DoubleAck(actx)
		cancel()
		log.Debug("notification_sent")
	case Filtered:
		err = m.Ack()
	case Rejected:
		log.Warn("notification_rejected", zap.Error(o.err))
		err = m.Term()
	case Invalid:
		log.Error("notify_unreadable_record", zap.Error(o.err))
		err = m.Term()
	case Retried:
		if ctx.Err() != nil { // stopping: the next run takes it at once
			err = m.Nak()
			break
		}
		if o.err != nil {
			delay, first := s.gate.failed(time.Now())
			o.delay = delay
			if first {
				n.o.Metrics.setFailing(s.cfg.Name, true)
				log.Warn("notify_sink_failing", zap.Error(o.err), zap.Duration("retry_in", delay))
			}
		}
		err = m.NakWithDelay(o.delay)
	}
	n.o.Metrics.count(s.cfg.Name, o.result)
	if err != nil {
		// The record comes back after the ack wait: at least once.
		log.Warn("notify_settle_failed", zap.String("result", string(o.result)), zap.Error(err))
	}
}

// gate holds a failing sink's records back: after a failure nothing is
// sent until the delay has passed, and each failure of a probe doubles
// the delay (base to max); a success opens the gate.
type gate struct {
	base, max time.Duration
	mu        sync.Mutex
	until     time.Time
	fails     int
}

// wait is how long sends must still wait.
func (g *gate) wait(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.until) {
		return g.until.Sub(now)
	}
	return 0
}

// failed records a failure and returns the delay before the next try;
// first is true when the sink was working until now. A failure of a send
// that began before the gate closed does not lengthen the delay.
func (g *gate) failed(now time.Time) (delay time.Duration, first bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.until) {
		return g.until.Sub(now), false
	}
	g.fails++
	delay = g.base
	for i := 1; i < g.fails && delay < g.max; i++ {
		delay *= 2
	}
	delay = min(delay, g.max)
	g.until = now.Add(delay)
	return delay, g.fails == 1
}

// ok records a success; it says whether the sink had been failing.
func (g *gate) ok() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	was := g.fails > 0
	g.fails, g.until = 0, time.Time{}
	return was
}
