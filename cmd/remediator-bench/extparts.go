package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/streams"
)

// extResult is one part of one round of the external bench.
type extResult struct {
	rate      float64
	cpu       time.Duration // of the consumer (the bench process, or the worker process) per event
	serverCPU time.Duration // of the nats-server process per event
	benchCPU  time.Duration // of this process (the simulator, when it serves a worker's calls) per event
	rss       string        // the worker's peak RSS
	settled   string        // how the worker settled the backlog
	publish   time.Duration // publishing the backlog took (not counted in rate)
	// Read and write system calls per event of the workers and of the
	// servers (drains only).
	workerReads, workerWrites, serverReads, serverWrites float64
}

// extBacklog creates the worker's topology as `remediator run` with cfg
// does (streams.EnsureTopology) on the nodes and publishes n no-write
// events about the keys over TCP. The connection stays open for the
// caller's polling.
func extBacklog(ctx context.Context, nodes natsNodes, cfg worker.Config, n int, keys []string) (*nats.Conn, jetstream.Consumer, error) {
	nc, err := nats.Connect(nodes.url(), nats.Name("remediator-bench"))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cons, err := streams.EnsureTopology(ctx, js, cfg.Streams())
	if err == nil {
		err = publishEach(ctx, js, cfg, n, func(i int) events.Raw { return benchEvent(i, keys[i%len(keys)]) })
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, cons, nil
}

// workerConfig is the worker's configuration at concurrency c with the
// streams and the ledger at replicas, as `remediator run --concurrency c
// --replicas replicas` has it.
func workerConfig(c, replicas int) worker.Config {
	cfg := worker.DefaultConfig()
	cfg.Concurrency, cfg.Replicas = c, replicas
	return cfg
}

// extCeiling drains the backlog from the bench process over TCP with a
// plain consumer that only DoubleAcks, reading as the worker does: the
// worker's pull options, one reader (streams.Feed) and c goroutines.
func extCeiling(ctx context.Context, t extTools, o extOptions, c int, keys []string) (extResult, error) {
	nodes, err := startNATSNodes(ctx, t.natsServer, 1, false)
	if err != nil {
		return extResult{}, err
	}
	defer nodes.stop()
	srv := nodes[0]
	nc, _, err := extBacklog(ctx, nodes, workerConfig(c, 1), o.events, keys)
	if err != nil {
		return extResult{}, err
	}
	nc.Close()
	// A connection of its own, as the worker's pulls and acks have.
	cc, err := nats.Connect(srv.url, nats.Name("remediator-bench-ceiling"))
	if err != nil {
		return extResult{}, err
	}
	defer cc.Close()
	js, err := jetstream.New(cc)
	if err != nil {
		return extResult{}, err
	}
	cfg := worker.DefaultConfig()
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Consumer)
	if err != nil {
		return extResult{}, err
	}
	it, err := cons.Messages(streams.PullOptions(worker.PrefetchFor(c))...)
	if err != nil {
		return extResult{}, err
	}
	defer it.Stop()
	msgs := make(chan jetstream.Msg)
	var n atomic.Int64
	start, use0 := time.Now(), usageNow()
	srv0, _ := procCPU(srv.pid())
	go streams.Feed(it, msgs, nil)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				if m.DoubleAck(ctx) == nil {
					n.Add(1)
				}
			}
		}()
	}
	for n.Load() < int64(o.events) {
		if time.Since(start) > o.timeout {
			return extResult{}, fmt.Errorf("only %d of %d acknowledged", n.Load(), o.events)
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	cpu, _ := usageNow().since(use0, o.events)
	srv1, _ := procCPU(srv.pid())
	it.Stop()
	wg.Wait()
	return extResult{rate: float64(o.events) / took.Seconds(), cpu: cpu, serverCPU: (srv1 - srv0) / time.Duration(o.events)}, nil
}

// extWorker drains the backlog with `remediator run` as a process of its
// own against one server (extDrain).
func extWorker(ctx context.Context, t extTools, o extOptions, c int, simURL string, keys []string, profile string, profileFor time.Duration) (extResult, error) {
	return extDrain(ctx, t, simURL, keys, drainRun{nodes: 1, events: o.events, concurrency: c, timeout: o.timeout, profile: profile, profileFor: profileFor})
}

// drainRun is one drain: a backlog of events on nodes nats-servers (a
// cluster with replicas as many when more than one), a `remediator run`
// at concurrency per node, each connected to its node.
type drainRun struct {
	nodes, events, concurrency int
	timeout                    time.Duration
	profile                    string        // profile the first worker's CPU into this file
	profileFor                 time.Duration // for this long from the start of the drain
}

// extDrain drains a backlog: the time runs from the first worker's
// /readyz answering 200 to the durable consumer having nothing pending
// and nothing waiting for an ack. The CPU is the workers' and the
// servers' together per event, the RSS the largest worker's peak.
func extDrain(ctx context.Context, t extTools, simURL string, keys []string, d drainRun) (extResult, error) {
	nodes, err := startNATSNodes(ctx, t.natsServer, d.nodes, d.profile != "")
	if err != nil {
		return extResult{}, err
	}
	defer nodes.stop()
	published := time.Now()
	nc, cons, err := extBacklog(ctx, nodes, workerConfig(d.concurrency, d.nodes), d.events, keys)
	if err != nil {
		return extResult{}, err
	}
	defer nc.Close()
	publish := time.Since(published)
	ws, err := startWorkers(t, nodes, simURL, d.concurrency, d.profile != "")
	if err != nil {
		return extResult{}, err
	}
	defer ws.stop()
	start, err := ws.firstReady(ctx, 30*time.Second)
	if err != nil {
		return extResult{}, err
	}
	profiled := make(chan error, 2)
	if d.profile != "" {
		go func() { profiled <- ws[0].cpuProfile(ctx, d.profileFor, d.profile) }()
		go func() {
			if err := nodes[0].cpuProfile(ctx, d.profileFor, d.profile+".server"); err != nil {
				err = fmt.Errorf("nats-server: %w", err)
			}
			profiled <- err
		}()
	}
	w0, srv0, self0 := ws.cpu(), nodes.cpu(), usageNow()
	wr0, ww0 := syscallsOf(ws.pids())
	sr0, sw0 := syscallsOf(nodes.pids())
	if err := waitDrained(ctx, cons, start, d.timeout); err != nil {
		return extResult{}, err
	}
	took := time.Since(start)
	w1, srv1 := ws.cpu(), nodes.cpu()
	wr1, ww1 := syscallsOf(ws.pids())
	sr1, sw1 := syscallsOf(nodes.pids())
	self, _ := usageNow().since(self0, d.events)
	res := extResult{rate: float64(d.events) / took.Seconds(), cpu: (w1 - w0) / time.Duration(d.events),
		serverCPU: (srv1 - srv0) / time.Duration(d.events), benchCPU: self, rss: ws.peakRSS(), publish: publish}
	per := func(n int64) float64 { return float64(n) / float64(d.events) }
	res.workerReads, res.workerWrites = per(wr1-wr0), per(ww1-ww0)
	res.serverReads, res.serverWrites = per(sr1-sr0), per(sw1-sw0)
	if d.profile != "" {
		for range 2 {
			if err := <-profiled; err != nil {
				return extResult{}, fmt.Errorf("the CPU profile: %w", err)
			}
		}
		// Every allocation since the worker started, nearly all of
		// them the drain's.
		if err := fetchProfile(ctx, "http://"+ws[0].addr+"/debug/pprof/allocs", d.profile+".allocs"); err != nil {
			return extResult{}, fmt.Errorf("the worker's allocation profile: %w", err)
		}
	}
	if err := ws.stop(); err != nil {
		return extResult{}, err
	}
	if res.settled, err = extSettled(ctx, nc, d.events); err != nil {
		return extResult{}, err
	}
	return res, nil
}

// waitDrained waits until the consumer has nothing pending and nothing
// waiting for an ack, at most limit from start.
func waitDrained(ctx context.Context, cons jetstream.Consumer, start time.Time, limit time.Duration) error {
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
		if time.Since(start) > limit {
			return fmt.Errorf("not drained after %s: %+v", limit, info)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// extSettled says how the backlog of n events was settled: the work queue
// is empty, every event has an audit record, none was dead-lettered.
func extSettled(ctx context.Context, nc *nats.Conn, n int) (string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	cfg := worker.DefaultConfig()
	count := func(name string) (uint64, error) {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return 0, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.State.Msgs, nil
	}
	var got [3]uint64
	for i, name := range []string{cfg.Stream, cfg.AuditStream, cfg.DLQStream} {
		if got[i], err = count(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
	}
	s := fmt.Sprintf("%d left, %d audit records, %d dead letters", got[0], got[1], got[2])
	if got[0] != 0 || got[1] != uint64(n) || got[2] != 0 {
		return "", fmt.Errorf("the worker did not settle every one of %d events: %s", n, s)
	}
	return s, nil
}

// extNATSBench runs `nats bench js consume --doubleack` with c clients on a
// backlog of n messages of a bench event's size that `nats bench js pub
// async` publishes to a stream of its own on a fresh server.
func extNATSBench(ctx context.Context, t extTools, o extOptions, c int) (extResult, error) {
	srv, err := startNATSServer(ctx, t.natsServer)
	if err != nil {
		return extResult{}, err
	}
	defer srv.stop()
	payload := filepath.Join(srv.dir, "payload.json")
	if err := os.WriteFile(payload, benchEvent(0, strings.Repeat("0", 36)).Body, 0o600); err != nil {
		return extResult{}, err
	}
	common := []string{"--server", srv.url, "--no-context"}
	n := strconv.Itoa(o.events)
	if _, err := runNATSCLI(ctx, t.natsCLI, append(common, "bench", "js", "pub", "async", "bench.backlog", "--create", "--stream", "BENCH",
		"--msgs", n, "--payload", payload, "--no-progress")...); err != nil {
		return extResult{}, err
	}
	srv0, _ := procCPU(srv.pid())
	out, err := runNATSCLI(ctx, t.natsCLI, append(common, "bench", "js", "consume", "--stream", "BENCH", "--msgs", n,
		"--clients", strconv.Itoa(c), "--doubleack", "--no-progress")...)
	if err != nil {
		return extResult{}, err
	}
	srv1, _ := procCPU(srv.pid())
	m := natsBenchRate.FindAllStringSubmatch(out, -1)
	if m == nil {
		return extResult{}, fmt.Errorf("no rate in the output of nats bench js consume:\n%s", out)
	}
	rate, _ := strconv.ParseFloat(strings.ReplaceAll(m[len(m)-1][1], ",", ""), 64)
	return extResult{rate: rate, serverCPU: (srv1 - srv0) / time.Duration(o.events)}, nil
}

// natsBenchRate finds the (aggregated) rate nats bench prints last.
var natsBenchRate = regexp.MustCompile(`stats: ([0-9,]+) msgs/sec`)

func runNATSCLI(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = workerEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("nats %s: %w:\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
