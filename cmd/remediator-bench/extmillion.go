package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// RSS and rate targets of the million part.
const (
	rssTarget  = 128 << 20 // bytes
	rateTarget = 0.90      // the large backlog's rate over the baseline's
)

// extMillion drains the baseline backlog --rounds times around one drain
// of the large backlog (baseline, large, then the other baselines), each
// published before its worker starts, and reports the rates and the
// worker's peak RSS against the targets.
func extMillion(ctx context.Context, w io.Writer, t extTools, o extOptions, simURL string, keys []string) error {
	rounds := max(1, o.rounds)
	sizes := []int{o.baseline, o.millionEvents}
	for range rounds - 1 {
		sizes = append(sizes, o.baseline)
	}
	got := make(map[int][]extResult)
	for i, n := range sizes {
		// The timeout at least a millisecond an event: a drain of a
		// million at 1,000/s would still finish.
		limit := max(o.timeout, time.Duration(n)*time.Millisecond)
		r, err := extDrain(ctx, t, simURL, keys, drainRun{nodes: 1, events: n, concurrency: o.workerConcurrency, timeout: limit})
		if err != nil {
			return fmt.Errorf("%d events: %w", n, err)
		}
		got[n] = append(got[n], r)
		fmt.Fprintf(w, "million %d/%d: %d events (published in %s, not counted): worker %.0f/s, peak RSS %s; %s\n",
			i+1, len(sizes), n, r.publish.Round(100*time.Millisecond), r.rate, r.rss, r.settled)
	}
	fmt.Fprintf(w, "\nmillion: one remediator run (--concurrency %d) draining a no-write backlog published before it starts, against one nats-server process over loopback TCP; median (min-max)\n",
		o.workerConcurrency)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "backlog\tdrains\tworker events/s\tworker peak RSS\tworker CPU/event\tserver CPU/event")
	for _, n := range []int{o.baseline, o.millionEvents} {
		rs := got[n]
		rates, rss, cpu, srv := make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs))
		for i, r := range rs {
			rates[i], rss[i] = r.rate, float64(kiB(r.rss))/1024
			cpu[i], srv[i] = float64(r.cpu)/float64(time.Microsecond), float64(r.serverCPU)/float64(time.Microsecond)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", n, len(rs), spread(rates, "%.0f"), spread(rss, "%.0f MiB"), spread(cpu, "%.0fµs"), spread(srv, "%.0fµs"))
	}
	_ = tw.Flush()
	base := make([]float64, len(got[o.baseline]))
	for i, r := range got[o.baseline] {
		base[i] = r.rate
	}
	slices.Sort(base)
	large := got[o.millionEvents][0]
	peak := 0
	for _, rs := range got {
		for _, r := range rs {
			peak = max(peak, kiB(r.rss))
		}
	}
	fmt.Fprintf(w, "%d-event rate / %d-event median rate: %.2f (target >= %.2f: %s); largest peak RSS %d MiB (target <= %d MiB: %s)\n",
		o.millionEvents, o.baseline, large.rate/base[len(base)/2], rateTarget, met(large.rate/base[len(base)/2] >= rateTarget),
		peak/1024, rssTarget>>20, met(peak<<10 <= rssTarget))
	return nil
}

// kiB parses a VmHWM value ("12345 kB"); 0 when it is unknown.
func kiB(s string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(s, " kB"))
	return n
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
