package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// workerGroup is the `remediator run` processes of one measurement, one
// per nats-server node, sharing the durable consumer.
type workerGroup []*workerProc

// startWorkers starts a `remediator run` per node, connected to that node
// only (the client learns the others from the server), at concurrency c,
// not paced, with its ops server on a random port; on a cluster with
// --replicas as many as the nodes.
func startWorkers(t extTools, nodes natsNodes, simURL string, c int, pprof bool) (workerGroup, error) {
	var ws workerGroup
	for _, n := range nodes {
		args := []string{"run", "--nats-url", n.url, "--cloud-endpoint", simURL,
			"--concurrency", strconv.Itoa(c), "--pacing=false", "--http", "127.0.0.1:0", "--shutdown-timeout", "5s"}
		if len(nodes) > 1 {
			args = append(args, "--replicas", strconv.Itoa(len(nodes)))
		}
		if pprof {
			args = append(args, "--pprof")
		}
		w, err := startWorkerProc(t.remediator, workerEnv(), args...)
		if err != nil {
			_ = ws.stop()
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// firstReady waits until every worker's /readyz answers 200 and returns
// when the first one did.
func (ws workerGroup) firstReady(ctx context.Context, limit time.Duration) (time.Time, error) {
	at := make([]time.Time, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = w.waitReady(ctx, limit); errs[i] == nil {
				at[i] = time.Now()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return time.Time{}, err
	}
	first := at[0]
	for _, t := range at[1:] {
		if t.Before(first) {
			first = t
		}
	}
	return first, nil
}

// cpu is the CPU time the workers have used so far.
func (ws workerGroup) cpu() time.Duration {
	var sum time.Duration
	for _, w := range ws {
		c, _ := procCPU(w.pid())
		sum += c
	}
	return sum
}

// pids are the workers' process ids.
func (ws workerGroup) pids() []int {
	pids := make([]int, len(ws))
	for i, w := range ws {
		pids[i] = w.pid()
	}
	return pids
}

// peakRSS is the largest of the workers' peak RSS (VmHWM).
func (ws workerGroup) peakRSS() string {
	peak := "unknown"
	for _, w := range ws {
		r := vmHWM(strconv.Itoa(w.pid()))
		if r != "unknown" && (peak == "unknown" || pad(r) > pad(peak)) {
			peak = r
		}
	}
	return peak
}

// stop stops the workers together; an exit other than 0 is an error. A
// worker already stopped is left alone.
func (ws workerGroup) stop() error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w.stopOnce() }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping the workers: %w", err)
	}
	return nil
}

// counter sums, over the workers, the samples on their /metrics of the
// Prometheus counter name, every label set, or those that begin with the
// labels name holds after its "{" (`remediator_waits_total{for="lease"`).
func (ws workerGroup) counter(ctx context.Context, name string) (float64, error) {
	var sum float64
	for _, w := range ws {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.addr+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, name); ok && rest != "" && strings.ContainsRune("{}, ", rune(rest[0])) {
				f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
				if len(f) > 0 {
					v, _ := strconv.ParseFloat(f[0], 64)
					sum += v
				}
			}
		}
	}
	return sum, nil
}
