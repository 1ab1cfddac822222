package main

import (
	"context"
	"fmt"
	"io"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

type benchResult struct {
	name   string
	rate   float64
	cpu    time.Duration // CPU time of the whole process per event
	allocs float64       // heap allocations of the whole process per event
	note   string
	p50p99 string
	writes string
}

func runBench(ctx context.Context, w io.Writer, o benchOptions) error {
	results, ceiling, err := benchRatios(ctx, w, o)
	if err != nil {
		return err
	}
	if o.runs("write") {
		r, err := benchWorker(ctx, o, workerRun{n: o.events, resources: o.events})
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		r.name = "worker, one write per event (simulator over HTTP)"
		if ceiling > 0 {
			r.note = fmt.Sprintf("%.0f%%", 100*r.rate/ceiling)
		}
		results = append(results, r)
	}
	if o.runs("latency") {
		lat, err := benchLatency(ctx, o)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		results = append(results, lat)
	}
	if o.runs("drift") {
		drift, err := benchWorker(ctx, o, workerRun{n: min(o.events, 10000), resources: o.resources})
		if err != nil {
			return fmt.Errorf("writes per drift: %w", err)
		}
		drift.name = fmt.Sprintf("%d drift events about %d resources", min(o.events, 10000), o.resources)
		results = append(results, drift)
	}
	if o.runs("throttle") {
		quota := map[string]cloudsim.Quota{"kms": {PerSecond: o.quota}}
		burst := max(1, o.quota/10)
		for _, paced := range []bool{true, false} {
			run := workerRun{n: o.throttleEvents, resources: o.throttleEvents, quotas: quota}
			name := fmt.Sprintf("%d drifts, simulator KMS quota %d/s, not paced", o.throttleEvents, o.quota)
			if paced {
				run.rates = action.Rates{"kms": {PerSecond: float64(o.quota - burst), Burst: burst}}
				name = fmt.Sprintf("%d drifts, simulator KMS quota %d/s, paced at %d/s burst %d", o.throttleEvents, o.quota, o.quota-burst, burst)
			}
			r, err := benchWorker(ctx, o, run)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			r.name = name
			results = append(results, r)
		}
	}
	printBench(w, o, results)
	if o.backlog > 0 {
		rss, took, err := benchRSS(ctx, o, o.backlog)
		if err != nil {
			return fmt.Errorf("backlog: %w", err)
		}
		fmt.Fprintf(w, "worker process alone draining a %d-event backlog (no write): peak RSS %s, %s (%.0f events/s)\n",
			o.backlog, rss, took.Round(time.Second), float64(o.backlog)/took.Seconds())
	}
	return nil
}

func printBench(w io.Writer, o benchOptions, results []benchResult) {
	fmt.Fprintln(w, "in-process: an embedded nats-server, the simulator and the worker in this process (for nats-server and remediator run as processes over TCP: remediator-bench external)")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run (%d events, concurrency %d)\tevents/s\tof ceiling\tCPU/event\tallocs/event\tp50 / p99\twrites\n", o.events, o.concurrency)
	for _, r := range results {
		rate, cpu, allocs := "-", "-", "-"
		if r.rate > 0 {
			rate = fmt.Sprintf("%.0f", r.rate)
		}
		if r.cpu > 0 {
			cpu = fmt.Sprintf("%.0fµs", float64(r.cpu)/float64(time.Microsecond))
		}
		if r.allocs > 0 {
			allocs = fmt.Sprintf("%.0f", r.allocs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, rate, dash(r.note), cpu, allocs, dash(r.p50p99), dash(r.writes))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "peak RSS of the whole process (worker, embedded nats-server, simulator): %s\n", peakRSS())
}

// dash is s, or "-" for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// workerRun is one run of the worker over a published backlog.
type workerRun struct {
	n, resources int
	compliant    bool
	quotas       map[string]cloudsim.Quota // the simulator throttles past these (nil: never)
	rates        action.Rates              // the worker paces at these (nil: not at all)
}

// benchWorker runs the worker over r.n events about r.resources resources
// and reports events/s, writes and calls.
func benchWorker(ctx context.Context, o benchOptions, r workerRun) (benchResult, error) {
	ncompliant := 0
	if r.compliant {
		ncompliant = r.resources
	}
	env, done, err := newBenchEnv(r.resources, ncompliant)
	if err != nil {
		return benchResult{}, err
	}
	defer done()
	env.sim.SetChaos(cloudsim.Chaos{Quotas: r.quotas})
	var settled, dead, retries atomic.Int64
	count := audit.RecorderFunc(func(_ context.Context, d audit.Decision) error {
		switch {
		case d.Outcome == audit.Retrying:
			retries.Add(1)
		case d.Final && d.Outcome == audit.DeadLettered:
			dead.Add(1)
			settled.Add(1)
		case d.Final:
			settled.Add(1)
		}
		return nil
	})
	cfg := worker.DefaultConfig()
	cfg.Concurrency = o.concurrency
	// The backlog is published first, as for the ceiling: the run measures
	// draining it.
	if _, err := streams.EnsureTopology(ctx, env.js, cfg.Streams()); err != nil {
		return benchResult{}, err
	}
	raws := make([]events.Raw, r.n)
	for i := range raws {
		raws[i] = benchEvent(i, env.keys[i%len(env.keys)])
	}
	if err := publishAll(ctx, env.js, cfg, raws); err != nil {
		return benchResult{}, err
	}
	start, use0 := time.Now(), usageNow()
	stop, err := startBenchWorker(ctx, env, cfg, r.rates, audit.Tee(audit.NewStream(env.records, cfg.AuditConfig()), count))
	if err != nil {
		return benchResult{}, err
	}
	defer stop()
	for settled.Load() < int64(r.n) {
		if time.Since(start) > 10*time.Minute {
			return benchResult{}, fmt.Errorf("only %d of %d settled", settled.Load(), r.n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rate := float64(r.n) / time.Since(start).Seconds()
	calls, throttled := 0, 0
	for _, c := range env.sim.Calls() {
		calls++
		if c.Code == "APIGW.0308" || strings.HasPrefix(c.Code, "Throttling") {
			throttled++
		}
	}
	res := benchResult{rate: rate, writes: fmt.Sprintf("%d for %d resources (%d calls)", env.sim.Writes(""), r.resources, calls)}
	if r.quotas != nil {
		res.writes += fmt.Sprintf("; %d throttled (%.2f%%), %d retries, %d dead-lettered",
			throttled, 100*float64(throttled)/float64(max(calls, 1)), retries.Load(), dead.Load())
	}
	res.cpu, res.allocs = usageNow().since(use0, r.n)
	return res, nil
}

// benchLatency offers compliant events at a fixed rate and measures the
// time from the stream's arrival stamp to the final decision.
func benchLatency(ctx context.Context, o benchOptions) (benchResult, error) {
	env, done, err := newBenchEnv(o.resources, o.resources)
	if err != nil {
		return benchResult{}, err
	}
	defer done()
	var mu sync.Mutex
	var lat []time.Duration
	rec := audit.RecorderFunc(func(_ context.Context, d audit.Decision) error {
		if d.Final {
			mu.Lock()
			lat = append(lat, time.Since(d.Arrived))
			mu.Unlock()
		}
		return nil
	})
	cfg := worker.DefaultConfig()
	cfg.Concurrency = o.concurrency
	stop, err := startBenchWorker(ctx, env, cfg, nil, audit.Tee(audit.NewStream(env.records, cfg.AuditConfig()), rec))
	if err != nil {
		return benchResult{}, err
	}
	defer stop()
	total := int(o.latencyFor.Seconds() * float64(o.rate))
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	for i := range total {
		<-tick.C
		if _, err := streams.Publish(ctx, env.js, cfg.Streams(), benchEvent(i, env.keys[i%len(env.keys)]), events.Structured); err != nil {
			return benchResult{}, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		return benchResult{}, fmt.Errorf("no outcome")
	}
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return benchResult{name: fmt.Sprintf("latency, %d events/s offered for %s (no write)", o.rate, o.latencyFor),
		p50p99: fmt.Sprintf("%s / %s", p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))}, nil
}

// labelled runs f with the CPU-profile label part=name; the goroutines it
// starts, and theirs, inherit it, so `go tool pprof -tags` splits a
// --cpuprofile between the worker (its SDK calls included), the simulator
// and nats (server and client I/O). Unlabelled samples are the bench's own
// goroutines and the Go runtime's (GC).
func labelled(name string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("part", name), func(context.Context) { f() })
}

// peakRSS is this process's VmHWM.
func peakRSS() string { return vmHWM("self") }
