package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker"
)

// latencyRun offers no-write events at a fixed rate to the workers of a
// fresh set of nodes (one worker per node).
type latencyRun struct {
	nodes, concurrency, rate int
	duration                 time.Duration
}

// latencyResult is one latency round.
type latencyResult struct {
	p50, p99, max time.Duration
	offered       float64 // events/s actually offered
	events        int
	settled       string
	workerCores   float64 // the workers' CPU time over the offering's wall time
	load          string  // the machine's load average (1, 5, 15 min) at the end
	leaseWaits    float64 // the workers' remediator_waits_total{for="lease"}
	readWaits     float64 // the workers' remediator_waits_total{for="read"}
	retries       float64 // the workers' remediator_retries_total
}

// tapSubject receives the headers of every intake message as stored: the
// intake stream republishes them (RePublish, headers only) with its
// sequence and stored timestamp.
const tapSubject = "bench.tap.>"

// extLatency measures publish-to-outcome latency as the in-process bench
// does, from the intake stream's stored timestamp of each event to its
// audit record's stored timestamp. Both come from the server, so neither
// the bench's publishing nor its reading is in them: the intake's through
// a headers-only RePublish of the intake stream (the one change to the
// worker's topology; the worker leaves settings it does not manage
// alone), the record's from the audit stream's message metadata, matched
// by the intake sequence the record names.
func extLatency(ctx context.Context, t extTools, simURL string, keys []string, l latencyRun) (latencyResult, error) {
	nodes, err := startNATSNodes(ctx, t.natsServer, l.nodes, false)
	if err != nil {
		return latencyResult{}, err
	}
	defer nodes.stop()
	// No backlog: the topology only.
	nc, _, err := extBacklog(ctx, nodes, workerConfig(l.concurrency, l.nodes), 0, keys)
	if err != nil {
		return latencyResult{}, err
	}
	defer nc.Close()
	cfg := workerConfig(l.concurrency, l.nodes)
	stored, err := tapIntake(ctx, nc, cfg)
	if err != nil {
		return latencyResult{}, err
	}
	ws, err := startWorkers(t, nodes, simURL, l.concurrency, false)
	if err != nil {
		return latencyResult{}, err
	}
	defer ws.stop()
	if _, err := ws.firstReady(ctx, 30*time.Second); err != nil {
		return latencyResult{}, err
	}
	total := int(l.duration.Seconds() * float64(l.rate))
	start, w0 := time.Now(), ws.cpu()
	offered, err := offer(ctx, nc, cfg, total, l.rate, keys)
	if err != nil {
		return latencyResult{}, err
	}
	recorded, err := auditStamps(ctx, nc, cfg, total, 30*time.Second)
	if err != nil {
		return latencyResult{}, err
	}
	cores := float64(ws.cpu()-w0) / float64(time.Since(start))
	// Where an event waited beyond its own work: for another delivery's
	// lease (waits_total, once per event), or Nakked to come back later.
	leaseWaits, err1 := ws.counter(ctx, `remediator_waits_total{for="lease"`)
	readWaits, err2 := ws.counter(ctx, `remediator_waits_total{for="read"`)
	retries, err3 := ws.counter(ctx, "remediator_retries_total")
	if err := errors.Join(err1, err2, err3); err != nil {
		return latencyResult{}, fmt.Errorf("the workers' metrics: %w", err)
	}
	if err := ws.stop(); err != nil {
		return latencyResult{}, err
	}
	res := latencyResult{offered: offered, events: total, workerCores: cores, load: loadAverage(), leaseWaits: leaseWaits, readWaits: readWaits, retries: retries}
	if res.settled, err = extSettled(ctx, nc, total); err != nil {
		return latencyResult{}, err
	}
	arrived := stored()
	lat := make([]time.Duration, 0, total)
	for seq, at := range recorded {
		in, ok := arrived[seq]
		if !ok {
			return latencyResult{}, fmt.Errorf("the audit record of intake message %d has no stored time from the tap (%d of %d tapped)", seq, len(arrived), total)
		}
		lat = append(lat, at.Sub(in))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	res.p50, res.p99, res.max = p(0.50), p(0.99), lat[len(lat)-1]
	return res, nil
}

// tapIntake makes the intake stream republish the headers of what it
// stores and collects their sequence and stored timestamp; the returned
// func hands them over (call it once the records are in).
func tapIntake(ctx context.Context, nc *nats.Conn, cfg worker.Config) (func() map[uint64]time.Time, error) {
	var mu sync.Mutex
	got := make(map[uint64]time.Time)
	var bad error
	sub, err := nc.Subscribe(tapSubject, func(m *nats.Msg) {
		seq, err1 := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		at, err2 := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		mu.Lock()
		defer mu.Unlock()
		if err := errors.Join(err1, err2); err != nil {
			bad = err
			return
		}
		if _, ok := got[seq]; !ok { // on a cluster more than one node may republish
			got[seq] = at
		}
	})
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, err
	}
	sc := st.CachedInfo().Config
	sc.RePublish = &jetstream.RePublish{Source: cfg.Subject, Destination: tapSubject, HeadersOnly: true}
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		return nil, fmt.Errorf("the intake stream's RePublish: %w", err)
	}
	return func() map[uint64]time.Time {
		_ = nc.Flush()
		mu.Lock()
		defer mu.Unlock()
		if bad != nil {
			return nil
		}
		return got
	}, nil
}

// offer publishes n no-write events at rate per second, each at its due
// time from the start, asynchronously (a publish does not wait for the
// one before), and returns the rate actually offered once all are acked.
func offer(ctx context.Context, nc *nats.Conn, cfg worker.Config, n, rate int, keys []string) (float64, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return 0, err
	}
	sc := cfg.Streams()
	futures := make([]jetstream.PubAckFuture, 0, n)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		f, err := js.PublishMsgAsync(intakeMsg(sc, benchEvent(i, keys[i%len(keys)])))
		if err != nil {
			return 0, err
		}
		futures = append(futures, f)
	}
	took := time.Since(start)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if n < 2 {
		return float64(rate), nil
	}
	// n events span n-1 intervals.
	return float64(n-1) / took.Seconds(), nil
}

// auditStamps waits (at most limit) for n audit records and returns each
// one's stored timestamp by the intake sequence of its event.
func auditStamps(ctx context.Context, nc *nats.Conn, cfg worker.Config, n int, limit time.Duration) (map[uint64]time.Time, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	oc, err := js.OrderedConsumer(ctx, cfg.AuditStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	it, err := oc.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	got := make(map[uint64]time.Time, n)
	deadline := time.AfterFunc(limit, it.Stop)
	defer deadline.Stop()
	for len(got) < n {
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("%d of %d audit records after %s: %w", len(got), n, limit, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		var rec struct {
			Data struct {
				Event struct {
					ID       string `json:"id"`
					Sequence uint64 `json:"stream_sequence"`
				} `json:"event"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &rec); err != nil {
			return nil, fmt.Errorf("audit record %d: %w", meta.Sequence.Stream, err)
		}
		if _, dup := got[rec.Data.Event.Sequence]; dup {
			return nil, fmt.Errorf("a second audit record about intake message %d (event %s)", rec.Data.Event.Sequence, rec.Data.Event.ID)
		}
		got[rec.Data.Event.Sequence] = meta.Timestamp
	}
	return got, nil
}

func (r latencyResult) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s; %d events offered at %.0f/s, the worker(s) busy %.2f cores, waits %.0f for a lease %.0f for a read, %.0f retries, load average %s; %s",
		ms(r.p50), ms(r.p99), ms(r.max), r.events, r.offered, r.workerCores, r.leaseWaits, r.readWaits, r.retries, r.load, r.settled)
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes
// (/proc/loadavg): the bench may share the machine, and at a low rate an
// event's latency is mostly its processes' wake-ups, each of which waits
// for a free core.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// ms prints a latency in milliseconds to a hundredth.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// latencyTarget is the p99 the latency is reported against.
const latencyTarget = 25 * time.Millisecond

func printLatency(w io.Writer, o extOptions, rs []latencyResult) {
	fmt.Fprintf(w, "\nlatency: remediator run (--concurrency %d) against one nats-server process over loopback TCP; %d no-write events/s offered for %s; %d round(s), median (min-max)\n",
		o.workerConcurrency, o.rate, o.latencyFor, len(rs))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "p50\tp99\tmax\toffered events/s\tp99 target")
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t<= %s\n", latSpread(rs, func(r latencyResult) time.Duration { return r.p50 }),
		latSpread(rs, func(r latencyResult) time.Duration { return r.p99 }), latSpread(rs, func(r latencyResult) time.Duration { return r.max }),
		spread(pickLat(rs, func(r latencyResult) float64 { return r.offered }), "%.0f"), ms(latencyTarget))
	_ = tw.Flush()
	fmt.Fprintln(w, "from the intake stream's stored time of each event (a headers-only RePublish of the intake stream) to its audit record's stored time")
}

func latSpread(rs []latencyResult, f func(latencyResult) time.Duration) string {
	return spread(pickLat(rs, func(r latencyResult) float64 { return float64(f(r)) / float64(time.Millisecond) }), "%.2fms")
}

func pickLat(rs []latencyResult, f func(latencyResult) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return v
}
