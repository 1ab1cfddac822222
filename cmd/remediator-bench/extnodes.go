package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsNodes are the nats-server processes of one measurement: one server,
// or the nodes of a cluster.
type natsNodes []*natsServer

// startNATSNodes starts one nats-server (n == 1) or a cluster of n nodes
// with JetStream on each, routes on loopback, and waits until the cluster
// can place a stream of n replicas. The nodes keep the default sync, as
// the single server does, so that the two compare (deploy/nats/ syncs
// every write).
//
// A single server started with profiled answers /debug/pprof on a port
// of its own (natsServer.cpuProfile).
func startNATSNodes(ctx context.Context, bin string, n int, profiled bool) (natsNodes, error) {
	if n == 1 {
		extra := ""
		if profiled {
			extra = "prof_port: -1\n"
		}
		s, err := startNATSNode(ctx, bin, "remediator-bench", extra)
		if err != nil {
			return nil, err
		}
		return natsNodes{s}, nil
	}
	var err error
	for range 3 { // a route port taken between freeing and binding it: try again
		var nodes natsNodes
		if nodes, err = startCluster(ctx, bin, n); err == nil {
			return nodes, nil
		}
	}
	return nil, err
}

func startCluster(ctx context.Context, bin string, n int) (natsNodes, error) {
	routes := make([]string, n)
	for i := range routes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		routes[i] = addr
	}
	var all []string
	for _, r := range routes {
		all = append(all, fmt.Sprintf("nats-route://%s", r))
	}
	nodes := make(natsNodes, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		// Each node waits for the others' routes before it answers
		// clients with JetStream: start them together.
		wg.Add(1)
		go func() {
			defer wg.Done()
			conf := fmt.Sprintf("cluster {\n  name: remediator-bench\n  listen: %s\n  routes: [%s]\n}\n", routes[i], strings.Join(all, ", "))
			nodes[i], errs[i] = startNATSNode(ctx, bin, fmt.Sprintf("nats-%d", i), conf)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		nodes.stop()
		return nil, err
	}
	if err := waitReplicas(ctx, nodes.url(), n, 60*time.Second); err != nil {
		nodes.stop()
		return nil, fmt.Errorf("the cluster: %w", err)
	}
	return nodes, nil
}

// freeLoopbackAddr is a loopback address with a port free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReplicas waits until a stream of r replicas can be created (the
// cluster has a meta leader and every node's JetStream).
func waitReplicas(ctx context.Context, url string, r int, limit time.Duration) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.CreateOrUpdateStream(pctx, jetstream.StreamConfig{Name: "BENCH_PROBE", Subjects: []string{"bench.probe"}, Replicas: r})
		if err == nil {
			err = js.DeleteStream(pctx, "BENCH_PROBE")
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no stream of %d replicas after %s: %w", r, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// url lists every node's client URL, as a client of the cluster is given them.
func (ns natsNodes) url() string {
	urls := make([]string, len(ns))
	for i, s := range ns {
		urls[i] = s.url
	}
	return strings.Join(urls, ",")
}

// pids are the nodes' process ids.
func (ns natsNodes) pids() []int {
	pids := make([]int, len(ns))
	for i, s := range ns {
		pids[i] = s.pid()
	}
	return pids
}

// cpu is the CPU time all nodes have used so far.
func (ns natsNodes) cpu() time.Duration {
	var sum time.Duration
	for _, s := range ns {
		c, _ := procCPU(s.pid())
		sum += c
	}
	return sum
}

// stop stops the nodes together (one by one, the last ones would wait for
// the first ones' routes) and removes their stores.
func (ns natsNodes) stop() {
	var wg sync.WaitGroup
	for _, s := range ns {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.stop() }()
	}
	wg.Wait()
}
