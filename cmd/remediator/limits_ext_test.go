package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/guard"
	"github.com/remediator/remediator/worker/streams"
)

// TestWriteLimitAcrossReplicas: three worker processes share one
// nats-server process; 30 drifted keys and a limit of 5 writes an hour,
// the global one (--global-write-limit) or a rule's `limits`. At most 5
// writes reach the cloud in all, the circuit opens, and the other events
// end dead-lettered as circuit_open (or exhausted, waiting for a slot), not
// written. Before the windows were shared each process counted its own:
// 11 to 15 writes (limit 5: 15, 15, 15 and 11 in four runs; 5 after).
func TestWriteLimitAcrossReplicas(t *testing.T) {
	t.Parallel()
	const limit, keys = 5, 30
	ruleFile := fmt.Sprintf(`rules:
  - name: limited
    match: {type: "KMS:CloudTrace:*"}
    when: finding.drift == "kms.key_rotation_disabled"
    limits: {writes: %d, per: 1h}
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: finding.project}, key_id: {expr: finding.resource_id}}
`, limit)
	for _, tc := range []struct {
		name, circuit string
		args          func(t *testing.T) []string
	}{
		{"global", guard.GlobalCircuit, func(*testing.T) []string {
			return []string{"--global-write-limit", fmt.Sprint(limit), "--global-write-window", "1h"}
		}},
		{"rule", "limited", func(t *testing.T) []string {
			path := filepath.Join(t.TempDir(), "limited.yaml")
			writeFile(t, path, ruleFile)
			return []string{"--rules", path}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := startNATSProcess(t, natsProcOptions{})
			sim, all := crashSimulator()
			sim.SetChaos(cloudsim.Chaos{Latency: 20 * time.Millisecond, Seed: 1})
			srv := startSim(t, sim)
			nc, err := ns.Connect()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			publishLimitEvents(t, nc, all[:keys])
			args := append([]string{"run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--concurrency", "8",
				"--ack-wait", "2s", "--max-deliver", "8", "--retry-base", "20ms", "--retry-max", "200ms", "--pacing=false",
				"--shutdown-timeout", "1s", "--coalesce-for", "0"}, tc.args(t)...)
			var children []*exec.Cmd
			for range 3 {
				cmd, _ := startChild(t, args...)
				children = append(children, cmd)
			}
			waitDrained(t, nc, 25*time.Second)
			for _, c := range children {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
			writes := 0
			for _, c := range sim.Calls() {
				if c.Write && c.Status/100 == 2 {
					writes++
				}
			}
			reasons := deadLetterReasons(t, nc)
			t.Logf("limit %d, 3 replicas: %d writes; dead letters by reason %v", limit, writes, reasons)
			if writes > limit || writes == 0 {
				t.Errorf("%d writes reached the cloud, want at most %d (and some)", writes, limit)
			}
			if dead := reasons["circuit_open"] + reasons["exhausted"]; reasons["circuit_open"] == 0 || dead+writes < keys {
				t.Errorf("dead letters %v and %d writes: every event not written must end on the circuit", reasons, writes)
			}
			js, _ := jetstream.New(nc)
			kv, err := js.KeyValue(context.Background(), worker.DefaultConfig().ControlBucket)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Get(context.Background(), guard.CircuitKey(tc.circuit)); err != nil {
				t.Errorf("the circuit of %s is not open: %v", tc.circuit, err)
			}
		})
	}
}

// publishLimitEvents publishes one rotation-disabled event per key.
func publishLimitEvents(t *testing.T, nc *nats.Conn, keys []string) {
	t.Helper()
	js, _ := jetstream.New(nc)
	cfg := worker.DefaultConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := streams.EnsureTopology(ctx, js, cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	for i, key := range keys {
		id := fmt.Sprintf("limit-%03d", i)
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS",
			"type": "KMS:CloudTrace:ApiCall", "data": map[string]any{"trace_name": "disableKeyRotation", "code": "200",
				"resource_id": key, "project_id": crashProject, "region_id": "cn-north-4"}})
		if _, err := streams.Publish(ctx, js, cfg.Streams(), events.Raw{Body: body, Source: "HC.KMS", ID: id}, events.Structured); err != nil {
			t.Fatal(err)
		}
	}
}

// waitDrained waits until the intake stream (a work queue) is empty:
// every event was acked or dead-lettered.
func waitDrained(t *testing.T, nc *nats.Conn, limit time.Duration) {
	t.Helper()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(limit)
	for {
		st, err := js.Stream(context.Background(), worker.DefaultConfig().Stream)
		if err == nil {
			info, err := st.Info(context.Background())
			if err == nil && info.State.Msgs == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the intake did not drain within %s", limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deadLetterReasons counts the dead letters by their Remediator-Reason.
func deadLetterReasons(t *testing.T, nc *nats.Conn) map[string]int {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]int{}
	cons, err := js.OrderedConsumer(ctx, worker.DefaultConfig().DLQStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return out
	}
	for {
		b, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			out[m.Headers().Get(streams.HeaderReason)]++
			n++
		}
		if n == 0 {
			return out
		}
	}
}
