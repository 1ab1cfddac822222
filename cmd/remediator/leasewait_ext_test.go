package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestLeaseWaitSpendsNoAttempts: a worker process is SIGKILLed in the
// middle of an action and leaves the event's and the key's leases behind.
// Events about the same key, handled by a second worker process, wait for
// those leases to expire; waiting is not an attempt, so each ends on its
// first attempt and none is dead-lettered. (Before, each spent four to six
// of its eight attempts on short busy retries, which left too few for the
// real failures that followed: valid events were dead-lettered as
// exhausted after a crash.) Defaults scaled to a 6 s ack wait.
func TestLeaseWaitSpendsNoAttempts(t *testing.T) {
	t.Parallel()
	const waiting = 10
	ns := startNATSProcess(t, natsProcOptions{})
	sim, keys := crashSimulator()
	sim.SetChaos(cloudsim.Chaos{Latency: 800 * time.Millisecond, Seed: 1})
	srv := startSim(t, sim)
	args := []string{"run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--ack-wait", "6s",
		"--retry-base", "200ms", "--throttle-base", "1s", "--retry-max", "6s", "--shutdown-timeout", "1s"}
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	key := keys[0]
	publishBodies(t, nc, [][]byte{ctsRotationEvent("wait-00", key)})
	first, _ := startChild(t, args...)
	waitFor(t, "the first worker's read", func() bool { return len(sim.Calls()) > 0 })
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()

	var bodies [][]byte
	for i := 1; i <= waiting; i++ {
		bodies = append(bodies, ctsRotationEvent(fmt.Sprintf("wait-%02d", i), key))
	}
	publishBodies(t, nc, bodies)
	ops := freeAddr(t)
	second, logs := startChild(t, append(args, "--http", ops)...)
	settled := waitSettledURL(t, ns.Addr, waiting+1, time.Minute)
	leaseWaits := metricValue(httpGet(t, "http://"+ops+"/metrics"), `remediator_waits_total{for="lease"}`)
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()

	attempts := map[string]int{}
	js, _ := jetstream.New(nc)
	readAll(t, js, "REMEDIATION_AUDIT", func(data []byte) {
		var ev struct {
			Data audit.Record `json:"data"`
		}
		if json.Unmarshal(data, &ev) == nil {
			attempts[ev.Data.Event.ID] = ev.Data.Attempts
		}
	})
	over := 0
	for id, n := range attempts {
		if id != "wait-00" && n != 1 {
			over++
		}
	}
	busy := countLines(logs.String(), `"reason":"busy"`)
	t.Logf("%d events waited for a killed worker's lease: %d busy retries, %g waits for the lease in the process, %d settled, %d dead letters, %d ended past their first attempt (attempts by event: %v)",
		waiting, busy, leaseWaits, settled.total(), settled.dlq, over, attempts)
	if busy == 0 && leaseWaits == 0 {
		t.Fatal("no event waited for a lease: the test proves nothing")
	}
	if settled.total() != waiting+1 || settled.dlq != 0 {
		t.Errorf("%d of %d settled, %d dead letters; want all settled and none dead-lettered", settled.total(), waiting+1, settled.dlq)
	}
	if over > 0 {
		t.Errorf("%d events spent attempts waiting for a lease", over)
	}
	if w := sim.Writes("kms.enable-key-rotation"); w != 1 {
		t.Errorf("%d writes, want 1", w)
	}
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// metricValue is the value of one series in a Prometheus text exposition
// (0 when absent).
func metricValue(exposition, series string) float64 {
	for _, l := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}
