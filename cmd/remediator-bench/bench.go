package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
)

type benchOptions struct {
	events, concurrency, resources, rate int
	latencyFor                           time.Duration
	cpuProfile                           string
	backlog                              int
	only                                 []string
	throttleEvents                       int
	quota                                int
	rounds                               int
}

// runs reports whether the named part of the benchmark is selected.
func (o benchOptions) runs(part string) bool {
	return len(o.only) == 0 || slices.Contains(o.only, part)
}

func newBenchCmd(stdout io.Writer) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the worker against JetStream itself, in one run, in-process",
		Long: "Runs an embedded nats-server and the simulator, then measures: the DoubleAck ceiling of a plain\n" +
			"jetstream consumer; the worker on events that need no write and on events that each need one;\n" +
			"publish-to-outcome latency at a fixed offered rate; writes per distinct drift; peak RSS.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return runBench(cmd.Context(), stdout, o)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.events, "events", 20000, "events per throughput run")
	fs.IntVar(&o.concurrency, "concurrency", 4, "consumer concurrency (ceiling and worker)")
	fs.IntVar(&o.resources, "resources", 100, "distinct resources the drift events are about")
	fs.IntVar(&o.rate, "rate", 500, "offered events per second for the latency run")
	fs.DurationVar(&o.latencyFor, "latency-duration", 10*time.Second, "length of the latency run")
	fs.IntVar(&o.backlog, "backlog", 0, "also measure the worker process alone draining a backlog of this many events (peak RSS)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringSliceVar(&o.only, "only", nil, "run only these parts: ceiling, record, nowrite, write, latency, drift, throttle")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the ceiling, record and no-write runs, taken in turn; each is reported at its median, its ratio as the median of the rounds' ratios")
	fs.IntVar(&o.throttleEvents, "throttle-events", 500, "drift events of the throttling runs")
	fs.IntVar(&o.quota, "quota", 200, "the simulator's KMS quota (calls in one second per project) in the throttling runs; the paced run paces at 90% of it with a burst of the other 10%")
	return cmd
}

// benchEnv is one embedded server, one simulator and the events' keys.
type benchEnv struct {
	conn    *natsConn
	records jetstream.JetStream // the records' connection, as run opens it
	sim     *cloudsim.Simulator
	url     string
	keys    []string
	dir     string
}

func newBenchEnv(resources, compliant int) (_ *benchEnv, _ func(), err error) {
	dir, err := os.MkdirTemp("", "remediator-bench-")
	if err != nil {
		return nil, nil, err
	}
	var cleanup []func() // run in reverse, now on an error, else by the returned func
	done := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	cleanup = append(cleanup, func() { _ = os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			done()
		}
	}()
	// The server's default sync (not fsync per write), as `nats bench`
	// measures. Its goroutines, and the connection's, carry the profile
	// label part=nats (see labelled).
	var srv *embedded.Server
	var nc *nats.Conn
	labelled("nats", func() {
		if srv, err = embedded.Start(embedded.Options{StoreDir: dir}); err == nil {
			cleanup = append(cleanup, srv.Shutdown)
			if nc, err = srv.Connect(); err == nil {
				cleanup = append(cleanup, nc.Close)
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return nil, nil, err
	}
	conn := &natsConn{nc: nc, js: js, srv: srv, closed: make(chan struct{}), dial: func(name string, opts ...nats.Option) (*nats.Conn, error) {
		return srv.Connect(append([]nats.Option{nats.Name(name)}, opts...)...)
	}}
	var records jetstream.JetStream
	labelled("nats", func() { records, err = conn.openRecords() })
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, conn.records.Close)
	var b strings.Builder
	fmt.Fprintf(&b, "huawei:\n  projects:\n    %s:\n      region: cn-north-4\n      kms_keys:\n", crashProjectID)
	keys := make([]string, resources)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		fmt.Fprintf(&b, "        - {id: %s, state: enabled, rotation: %t}\n", keys[i], i < compliant)
	}
	seed, err := cloudsim.ParseSeed([]byte(b.String()))
	if err != nil {
		return nil, nil, err
	}
	sim := cloudsim.New(seed)
	var simSrv *cloudsim.Server
	labelled("simulator", func() { simSrv, err = cloudsim.Start("127.0.0.1:0", sim) })
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() { _ = simSrv.Close(context.Background()) })
	return &benchEnv{conn: conn, records: records, sim: sim, url: simSrv.URL(), keys: keys, dir: dir}, done, nil
}

const crashProjectID = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"

func benchEvent(i int, key string) events.Raw {
	id := "bench-" + strconv.Itoa(i)
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS", "type": "KMS:CloudTrace:ApiCall",
		"time": time.Now().UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"trace_name": "disableKeyRotation", "code": "200", "resource_id": key, "resource_type": "cmk",
			"project_id": crashProjectID, "region_id": "cn-north-4", "domain_id": "5f1e2d3c4b5a69788796a5b4c3d2e1f0",
			"user": map[string]any{"name": "ops-alice", "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}, "request": `{"key_id":"` + key + `"}`,
			"response": "{}", "service_type": "KMS", "trace_rating": "normal", "trace_type": "ApiCall", "api_version": "v1.0",
			"source_ip": "203.0.113.10", "record_time": 1795162530333, "trace_id": "7e3f0c1a-" + id}})
	return events.Raw{Body: body, Source: "HC.KMS", ID: id}
}

// publishAll publishes events asynchronously and waits for every ack.
func publishAll(ctx context.Context, js jetstream.JetStream, cfg worker.Config, raws []events.Raw) error {
	for chunk := range slices.Chunk(raws, 1000) {
		var futures []jetstream.PubAckFuture
		for _, r := range chunk {
			msg := &nats.Msg{Subject: cfg.IntakeSubject(r.Source), Data: r.Body,
				Header: nats.Header{"Content-Type": {events.StructuredContentType}, jetstream.MsgIDHeader: {events.DedupID(r.Source, r.ID)}}}
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

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
	count := worker.RecorderFunc(func(_ context.Context, d worker.Decision) error {
		switch {
		case d.Outcome == worker.Retrying:
			retries.Add(1)
		case d.Final && d.Outcome == worker.DeadLettered:
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
	if _, err := worker.EnsureTopology(ctx, env.conn.js, cfg); err != nil {
		return benchResult{}, err
	}
	raws := make([]events.Raw, r.n)
	for i := range raws {
		raws[i] = benchEvent(i, env.keys[i%len(env.keys)])
	}
	if err := publishAll(ctx, env.conn.js, cfg, raws); err != nil {
		return benchResult{}, err
	}
	start, use0 := time.Now(), usageNow()
	stop, err := startBenchWorker(ctx, env, cfg, r.rates, worker.Tee(worker.NewAudit(env.records, cfg), count))
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

func startBenchWorker(ctx context.Context, env *benchEnv, cfg worker.Config, rates action.Rates, rec worker.Recorder) (func(), error) {
	reg, err := buildActions(providerConfig{cloudEndpoint: env.url, rates: rates}, zap.NewNop())
	if err != nil {
		return nil, err
	}
	set, err := loadRules(reg, nil, false)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	var done <-chan error
	labelled("worker", func() {
		_, done, err = startWorker(wctx, cfg, worker.Deps{JetStream: env.conn.js, Rules: set, Actions: reg, Recorder: rec})
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return func() { cancel(); <-done }, nil
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
	rec := worker.RecorderFunc(func(_ context.Context, d worker.Decision) error {
		if d.Final {
			mu.Lock()
			lat = append(lat, time.Since(d.Arrived))
			mu.Unlock()
		}
		return nil
	})
	cfg := worker.DefaultConfig()
	cfg.Concurrency = o.concurrency
	stop, err := startBenchWorker(ctx, env, cfg, nil, worker.Tee(worker.NewAudit(env.records, cfg), rec))
	if err != nil {
		return benchResult{}, err
	}
	defer stop()
	total := int(o.latencyFor.Seconds() * float64(o.rate))
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	for i := range total {
		<-tick.C
		if _, err := worker.Publish(ctx, env.conn.js, cfg, benchEvent(i, env.keys[i%len(env.keys)]), events.Structured); err != nil {
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

// peakRSS reads VmHWM from /proc (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
