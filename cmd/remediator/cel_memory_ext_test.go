package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// celMemoryRule concatenates event strings once per list element: before
// the fix data's dyn type left the concatenation uncosted and one 205 KB
// event took about 600 MB.
const celMemoryRule = `rules:
  - name: concat-runaway
    match: {type: com.example.big}
    when: data.items.map(x, data.s + data.s + data.s).size() > 0
    action: huawei.kms.enable_key_rotation
    params: {region: cn-north-4, project_id: ` + demoProject + `, key_id: ` + demoKeyOff + `}
`

// TestCELMemoryBounded runs `remediator run` as a process with a rule
// whose condition builds megabytes per element, and eight such events in
// flight at once: the worker's peak RSS stays under 256 MiB and every
// event is dead-lettered as rule_error (before the fix: remediated, 5.9 GB
// peak). Skipped under -race, which changes memory use (race_test.go).
func TestCELMemoryBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes memory use")
	}
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{MaxPayload: 1 << 20})
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := startSim(t, cloudsim.New(seed))
	rulesFile := filepath.Join(t.TempDir(), "runaway.yaml")
	writeFile(t, rulesFile, celMemoryRule)
	js := natsJS(t, ns)
	const n = 8
	publishBigEvents(t, js, n)
	cmd, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--rules", rulesFile,
		"--concurrency", strconv.Itoa(n), "--max-event-bytes", strconv.Itoa(1<<20), "--max-deliver", "3",
		"--ack-wait", "5s", "--retry-base", "50ms", "--retry-max", "200ms", "--shutdown-timeout", "1s")
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitForIn(t, 20*time.Second, "the worker's start", func() bool { return strings.Contains(logs.String(), "worker_started") }, logs)
	waitDrained(t, nc, 20*time.Second)
	hwm := childPeakRSS(t, cmd.Process.Pid)
	t.Logf("worker peak RSS %d MiB", hwm>>20)
	if hwm > 256<<20 {
		t.Errorf("worker peak RSS %d MiB, want under 256 MiB", hwm>>20)
	}
	if got := deadLetterReasons(t, nc); got["rule_error"] != n || len(got) != 1 {
		t.Errorf("dead letters by reason %v, want %d rule_error", got, n)
	}
}

// publishBigEvents publishes n events of about 205 KB: data.s a 200 KB
// string, data.items a list of 100 numbers.
func publishBigEvents(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	cfg := worker.DefaultConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := streams.EnsureTopology(ctx, js, cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	items := make([]int, 100)
	for i := range n {
		id := fmt.Sprintf("big-%d", i)
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS",
			"type": "com.example.big", "data": map[string]any{
				"s": strings.Repeat("a", 200_000), "items": items}})
		if _, err := streams.Publish(ctx, js, cfg.Streams(), events.Raw{Body: body, Source: "HC.KMS", ID: id}, events.Structured); err != nil {
			t.Fatal(err)
		}
	}
}

// childPeakRSS is a process's VmHWM in bytes.
func childPeakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
