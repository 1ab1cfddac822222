package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
)

// TestScaleOutOnCluster: three worker processes share one durable consumer
// on a three-node NATS cluster with R3 streams; one node is stopped
// mid-run. Every event must still settle once, with at most one write per
// resource and the cloud compliant.
func TestScaleOutOnCluster(t *testing.T) {
	t.Parallel()
	const nodes = 3
	client, route := make([]string, nodes), make([]string, nodes)
	for i := range nodes {
		client[i], route[i] = freeAddr(t), freeAddr(t)
	}
	routes := make([]string, nodes)
	for i := range nodes {
		routes[i] = "nats-route://" + route[i]
	}
	servers := make([]*embedded.Server, nodes)
	for i := range nodes {
		s, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: client[i], Name: fmt.Sprintf("n%d", i+1), SyncAlways: true,
			Cluster: &embedded.Cluster{Name: "remediator-test", Listen: route[i], Routes: routes}})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
		t.Cleanup(s.Shutdown)
	}
	urls := "nats://" + strings.Join(client, ",nats://")
	waitForMetaLeader(t, urls)

	sim, keys := crashSimulator()
	sim.SetChaos(cloudsim.Chaos{ThrottleRate: 0.03, ServerErrorRate: 0.03, Latency: 2 * time.Millisecond, Seed: 9})
	srv := startSim(t, sim)
	args := []string{"run", "--nats-url", urls, "--cloud-endpoint", srv.URL(), "--replicas", "3", "--concurrency", "4",
		"--ack-wait", "3s", "--max-deliver", "40", "--retry-base", "50ms", "--throttle-base", "100ms", "--retry-max", "1s"}
	publishClusterEvents(t, urls, keys) // creates the R3 streams first
	var logs []*syncBuffer
	for range 3 {
		c, l := startChild(t, args...)
		logs = append(logs, l)
		t.Cleanup(func() { _ = c.Process.Signal(syscall.SIGTERM) })
	}
	defer func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("worker %d log (last 3000 bytes):\n%s", i, tail(l.String(), 3000))
			}
		}
	}()
	for i, l := range logs {
		waitFor(t, fmt.Sprintf("worker %d to start", i), func() bool { return strings.Contains(l.String(), "worker_started") })
	}
	time.Sleep(time.Second)
	servers[2].Shutdown() // one node of three goes away mid-run
	settled := waitSettledURL(t, client[0], crashEvents, time.Duration(clusterWait)*time.Second)

	writes := map[string]int{}
	for _, c := range sim.Calls() {
		if c.Write && c.Status/100 == 2 {
			writes[c.Params["key_id"]]++
		}
	}
	dup, compliant := 0, 0
	for _, k := range keys {
		dup += max(writes[k]-1, 0)
		if key, _ := sim.Key(crashProject, k); key.Rotation {
			compliant++
		}
	}
	t.Logf("scale-out test: %d events, 3 workers, 3 nodes (1 stopped), %d settled (%d audit, %d dead-lettered), %d lost, %d duplicate writes, %d/%d compliant",
		crashEvents, settled.total(), settled.audited, settled.deadLettered, crashEvents-settled.total(), dup, compliant, len(keys))
	if settled.total() != crashEvents || settled.conflicting > 0 || settled.records != settled.audited {
		t.Errorf("settled %d of %d (%d conflicting, %d records)", settled.total(), crashEvents, settled.conflicting, settled.records)
	}
	if dup > 0 || compliant != len(keys) {
		t.Errorf("%d duplicate writes, %d of %d compliant", dup, compliant, len(keys))
	}
}

func waitForMetaLeader(t *testing.T, urls string) {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	waitFor(t, "an R3-capable JetStream cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3})
		return err == nil && js.DeleteStream(ctx, "PROBE") == nil
	})
}

func publishClusterEvents(t *testing.T, urls string, keys []string) {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publishCrashEventsConn(t, nc, keys, 3)
}

var clusterWait = 180

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
