package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// clusterNodes is the size of the cluster part's cluster, as deploy/nats/.
const clusterNodes = 3

// clusterRound is one round of the cluster part: one worker on one server
// and a worker per node of a cluster, each draining the same backlog and
// then taking events at the offered rate.
type clusterRound struct {
	single, cluster       extResult
	singleLat, clusterLat latencyResult
}

// extClusterRound measures one worker on one server, then three on three
// nodes, draining; then both at the offered rate. Every part starts on
// fresh servers.
func extClusterRound(ctx context.Context, t extTools, o extOptions, simURL string, keys []string) (clusterRound, error) {
	var r clusterRound
	var err error
	drain := func(nodes int) (extResult, error) {
		return extDrain(ctx, t, simURL, keys, drainRun{nodes: nodes, events: o.events, concurrency: o.workerConcurrency, timeout: o.timeout})
	}
	latency := func(nodes int) (latencyResult, error) {
		return extLatency(ctx, t, simURL, keys, latencyRun{nodes: nodes, concurrency: o.workerConcurrency, rate: o.rate, duration: o.latencyFor})
	}
	if r.single, err = drain(1); err != nil {
		return r, fmt.Errorf("one server, drain: %w", err)
	}
	if r.cluster, err = drain(clusterNodes); err != nil {
		return r, fmt.Errorf("%d nodes, drain: %w", clusterNodes, err)
	}
	if r.singleLat, err = latency(1); err != nil {
		return r, fmt.Errorf("one server, latency: %w", err)
	}
	if r.clusterLat, err = latency(clusterNodes); err != nil {
		return r, fmt.Errorf("%d nodes, latency: %w", clusterNodes, err)
	}
	return r, nil
}

func (r clusterRound) String() string {
	return fmt.Sprintf("one worker on one server: drain %.0f/s, p50 %s p99 %s; %d workers on %d nodes (R%d): drain %.0f/s (%s), p50 %s p99 %s (%s; busy %.2f cores, waits %.0f for a lease %.0f for a read, %.0f retries); load average %s",
		r.single.rate, ms(r.singleLat.p50), ms(r.singleLat.p99), clusterNodes, clusterNodes, clusterNodes,
		r.cluster.rate, r.cluster.settled, ms(r.clusterLat.p50), ms(r.clusterLat.p99), r.clusterLat.settled,
		r.clusterLat.workerCores, r.clusterLat.leaseWaits, r.clusterLat.readWaits, r.clusterLat.retries, r.clusterLat.load)
}

func printCluster(w io.Writer, o extOptions, rs []clusterRound) {
	fmt.Fprintf(w, "\ncluster: remediator run --concurrency %d per nats-server process over loopback TCP, default sync; drain of %d no-write events, latency at %d events/s for %s; %d round(s), median (min-max)\n",
		o.workerConcurrency, o.events, o.rate, o.latencyFor, len(rs))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "setup\tdrain events/s\tworkers' CPU/event\tservers' CPU/event\tp50\tp99\tworker peak RSS")
	row := func(name string, drain func(clusterRound) extResult, lat func(clusterRound) latencyResult) {
		pick := func(f func(extResult) float64) []float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(drain(r))
			}
			return v
		}
		lats := make([]latencyResult, len(rs))
		peak := ""
		for i, r := range rs {
			lats[i] = lat(r)
			if p := drain(r).rss; peak == "" || pad(p) > pad(peak) {
				peak = p
			}
		}
		us := func(f func(extResult) time.Duration) string {
			return spread(pick(func(r extResult) float64 { return float64(f(r)) / float64(time.Microsecond) }), "%.0fµs")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, spread(pick(func(r extResult) float64 { return r.rate }), "%.0f"),
			us(func(r extResult) time.Duration { return r.cpu }), us(func(r extResult) time.Duration { return r.serverCPU }),
			latSpread(lats, func(r latencyResult) time.Duration { return r.p50 }), latSpread(lats, func(r latencyResult) time.Duration { return r.p99 }), peak)
	}
	row("one worker, one nats-server (R1)", func(r clusterRound) extResult { return r.single }, func(r clusterRound) latencyResult { return r.singleLat })
	row(fmt.Sprintf("%d workers, %d-node cluster (R%d)", clusterNodes, clusterNodes, clusterNodes),
		func(r clusterRound) extResult { return r.cluster }, func(r clusterRound) latencyResult { return r.clusterLat })
	_ = tw.Flush()
	ratios := make([]float64, len(rs))
	for i, r := range rs {
		ratios[i] = r.cluster.rate / r.single.rate
	}
	fmt.Fprintf(w, "cluster/single drain rate: %s (median of the rounds' ratios); CPU per event summed over the workers and over the nodes; every event settled once (an audit record each, no dead letter)\n",
		spread(ratios, "%.2f"))
}
