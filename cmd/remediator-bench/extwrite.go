package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"
)

// writeRound is one round of the write part: a drain of events that each
// need one write, and what the simulator saw.
type writeRound struct {
	extResult
	events, writes, calls int
}

func (r writeRound) String() string {
	return fmt.Sprintf("%.0f events/s, %d writes in %d calls; CPU/event: worker %s, simulator %s, server %s; %s",
		r.rate, r.writes, r.calls, µs(r.cpu), µs(r.benchCPU), µs(r.serverCPU), r.settled)
}

// µs prints d in whole microseconds.
func µs(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

// extWriteDrain drains a backlog of n events, each about a different KMS
// key that a fresh simulator holds drifted (rotation off), as the
// in-process write part seeds it: every event needs one write (read,
// describe, write, read back). The simulator serves from this process,
// which does nothing else during the drain but poll the consumer's info
// every 10 ms, so this process's CPU is the simulator's. The drain fails
// unless the simulator took exactly n writes.
func extWriteDrain(ctx context.Context, t extTools, o extOptions, n int, profile string, profileFor time.Duration) (writeRound, error) {
	sim, srv, keys, err := startBenchSim(n, 0)
	if err != nil {
		return writeRound{}, err
	}
	defer func() { _ = srv.Close(context.Background()) }()
	r, err := extDrain(ctx, t, srv.URL(), keys, drainRun{nodes: 1, events: n, concurrency: o.workerConcurrency,
		timeout: o.timeout, profile: profile, profileFor: profileFor})
	if err != nil {
		return writeRound{}, err
	}
	w := writeRound{extResult: r, events: n, writes: sim.Writes(""), calls: len(sim.Calls())}
	if w.writes != n {
		return writeRound{}, fmt.Errorf("%d events that each need one write made %d writes (%d calls)", n, w.writes, w.calls)
	}
	return w, nil
}

// extWriteProfile drains once more with the worker's --pprof on and
// splits its CPU profile (splitProfile). The backlog is --write-events,
// or more if that drains faster than --write-profile-for at the rounds'
// median rate: /debug/pprof/profile takes whole seconds, and a second
// holds about a hundred samples a busy core.
func extWriteProfile(ctx context.Context, t extTools, o extOptions, dir string, rounds []writeRound) (writeRound, cpuSplit, error) {
	rates := make([]float64, len(rounds))
	for i, r := range rounds {
		rates[i] = r.rate
	}
	slices.Sort(rates)
	rate := rates[len(rates)/2]
	secs := max(time.Second, o.writeProfileFor.Round(time.Second))
	// A quarter more than the profile lasts, so the profile ends before the drain.
	n := max(o.writeEvents, int(math.Ceil(rate*secs.Seconds()*1.25)))
	path := o.writeProfile
	if path == "" {
		path = filepath.Join(dir, "write.pprof")
	}
	r, err := extWriteDrain(ctx, t, o, n, path, secs)
	if err != nil {
		return writeRound{}, cpuSplit{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return writeRound{}, cpuSplit{}, err
	}
	defer f.Close()
	s, err := splitProfile(f)
	return r, s, err
}

// printWrite prints the write part's table: the rounds' medians and
// ranges, the worker's CPU split by the profiled drain's shares.
func printWrite(w io.Writer, o extOptions, rounds []writeRound, prof writeRound, s cpuSplit) {
	fmt.Fprintf(w, "\nwrite: remediator run (--concurrency %d, --pacing=false) draining %d events that each need one write (each about a different drifted KMS key: read, describe, write, read back through the Huawei SDK), "+
		"against one nats-server process over loopback TCP and the simulator in this process; %d round(s), median (min-max)\n",
		o.workerConcurrency, o.writeEvents, len(rounds))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "events/s\twrites\tcalls/event\tworker CPU/event\tworker: SDK\tworker: rest\tsimulator CPU/event\tserver CPU/event\tworker peak RSS")
	pick := func(f func(writeRound) float64) []float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		return v
	}
	us := func(f func(writeRound) time.Duration) string {
		return spread(pick(func(r writeRound) float64 { return float64(f(r)) / float64(time.Microsecond) }), "%.0fµs")
	}
	sdk := s.share(s.sdk)
	kept := "kept in " + o.writeProfile
	if o.writeProfile == "" {
		kept = "--write-cpuprofile FILE keeps it"
	}
	rss := slices.MaxFunc(rounds, func(a, b writeRound) int { return kiB(a.rss) - kiB(b.rss) }).rss
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		spread(pick(func(r writeRound) float64 { return r.rate }), "%.0f"),
		spreadOrOne(pick(func(r writeRound) float64 { return float64(r.writes) }), "%.0f"),
		spreadOrOne(pick(func(r writeRound) float64 { return float64(r.calls) / float64(r.events) }), "%.2f"),
		us(func(r writeRound) time.Duration { return r.cpu }),
		us(func(r writeRound) time.Duration { return time.Duration(float64(r.cpu) * sdk) }),
		us(func(r writeRound) time.Duration { return time.Duration(float64(r.cpu) * (1 - sdk)) }),
		us(func(r writeRound) time.Duration { return r.benchCPU }),
		us(func(r writeRound) time.Duration { return r.serverCPU }), rss)
	_ = tw.Flush()
	fmt.Fprintf(w, "worker SDK / rest: each round's worker CPU/event split by the shares in a CPU profile of one more drain through its /debug/pprof/profile "+
		"(%d events at %.0f/s, %d samples, %s): SDK %.0f%% (the calls' stacks: huaweicloud-sdk-go-v3, action.Call/caller, huawei.invoke; "+
		"of them the SDK's HTTP connections' goroutines %.0f%%), rest %.0f%% (of it GC workers %.0f%%)\n",
		prof.events, prof.rate, s.samples, kept, 100*sdk, 100*s.share(s.conn), 100*(1-sdk), 100*s.share(s.gc))
	fmt.Fprintln(w, "simulator: this process's CPU during the drain (getrusage); it is otherwise idle then but for polling the consumer's info every 10 ms. Worker and server: their processes' CPU from /proc")
}

// spreadOrOne is spread, or the one value when every round had it (the
// writes, which must equal the events).
func spreadOrOne(v []float64, format string) string {
	if slices.Min(v) == slices.Max(v) {
		return fmt.Sprintf(format, v[0])
	}
	return spread(v, format)
}
