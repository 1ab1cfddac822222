package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// Fencing, from outside: a worker that stalls past its ack wait in the
// middle of an action (SIGSTOP, or a partition between it and NATS while
// the cloud stays reachable) loses its leases to a second replica. When it
// resumes it must not write, and each event must end with one final audit
// outcome. The worker is the real binary, NATS a nats-server process.

const (
	fenceResources = 8
	fenceStall     = 5200 * time.Millisecond
	fenceLatency   = 500 * time.Millisecond
)

// fenceCase is one kind of resource the test drifts.
type fenceCase struct {
	name   string
	seed   string
	rules  string // a rule file, "" for the built-in pack
	events [][]byte
	// resource names the resource a write call is about.
	resource func(cloudsim.Call) string
	// compliant reports whether the simulator ends compliant.
	compliant func(*cloudsim.Simulator) int
}

func kmsFenceCase() fenceCase {
	var b strings.Builder
	fmt.Fprintf(&b, "huawei:\n  projects:\n    %s:\n      region: cn-north-4\n      kms_keys:\n", crashProject)
	keys := make([]string, fenceResources)
	var evs [][]byte
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		fmt.Fprintf(&b, "        - {id: %s, state: enabled, rotation: false}\n", keys[i])
		evs = append(evs, ctsRotationEvent(fmt.Sprintf("fence-kms-%02d", i), keys[i]))
	}
	return fenceCase{name: "kms", seed: b.String(), events: evs,
		resource: func(c cloudsim.Call) string { return c.Params["key_id"] },
		compliant: func(sim *cloudsim.Simulator) int {
			n := 0
			for _, k := range keys {
				if key, _ := sim.Key(crashProject, k); key.Rotation {
					n++
				}
			}
			return n
		}}
}

func ctsRotationEvent(id, key string) []byte {
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS",
		"type": "KMS:CloudTrace:ApiCall", "data": map[string]any{"trace_name": "disableKeyRotation", "code": "200",
			"resource_id": key, "project_id": crashProject, "region_id": "cn-north-4"}})
	return body
}

// evsFenceKey is the approved EVS key of project i.
func evsFenceKey(i int) string { return fmt.Sprintf("a1b2c3d4-7777-4777-8777-0000000000%02x", i) }

func evsFenceCase() fenceCase {
	var b, policy strings.Builder
	b.WriteString("huawei:\n  projects:\n")
	policy.WriteString("policy:\n  evs_keys:\n")
	projects := make([]string, fenceResources)
	var evs [][]byte
	for i := range projects {
		projects[i] = fmt.Sprintf("%032x", i+0xabc0)
		fmt.Fprintf(&b, "    %s:\n      region: cn-north-4\n      kms_keys:\n        - {id: %s, state: enabled, rotation: true}\n", projects[i], evsFenceKey(i))
		fmt.Fprintf(&b, "      evs: {default_encryption: true, default_kms_key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}\n")
		fmt.Fprintf(&policy, "    %q: %s\n", projects[i], evsFenceKey(i))
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": fmt.Sprintf("fence-evs-%02d", i),
			"source": "urn:scanner:test", "type": "remediator.finding.disk.default_key_drifted",
			"data": map[string]any{"provider": "huawei", "region": "cn-north-4", "project_id": projects[i],
				"resource_type": "evs_default_key", "resource_id": projects[i] + "/evs-default-key"}})
		evs = append(evs, body)
	}
	rules := policy.String() + `rules:
  - name: evs-default-key-per-project
    match: {type: remediator.finding.disk.default_key_drifted}
    when: finding.provider == "huawei"
    action: huawei.evs.update_default_kms_key
    params:
      region: {expr: finding.region}
      project_id: {expr: finding.project}
      kms_key_id: {policy: "policy.evs_keys[finding.project]"}
`
	return fenceCase{name: "evs", seed: b.String(), rules: rules, events: evs,
		resource: func(c cloudsim.Call) string { return c.Project },
		compliant: func(sim *cloudsim.Simulator) int {
			n := 0
			for i, p := range projects {
				if st, _ := sim.EVS(p); st.DefaultKMSKeyID == evsFenceKey(i) {
					n++
				}
			}
			return n
		}}
}

// fault is how the first replica is stalled: stop and resume.
type fault struct {
	name   string
	direct bool // the first replica connects to NATS directly, not through the proxy
	stop   func(child *os.Process, px *tcpProxy)
	resume func(child *os.Process, px *tcpProxy)
}

var fenceFaults = []fault{
	{name: "sigstop", direct: true,
		stop:   func(p *os.Process, _ *tcpProxy) { _ = p.Signal(syscall.SIGSTOP) },
		resume: func(p *os.Process, _ *tcpProxy) { _ = p.Signal(syscall.SIGCONT) }},
	{name: "partition",
		stop:   func(_ *os.Process, px *tcpProxy) { px.Stall() },
		resume: func(_ *os.Process, px *tcpProxy) { px.Heal() }},
}

func TestFencedLeases(t *testing.T) {
	t.Parallel()
	for _, f := range fenceFaults {
		for _, c := range []fenceCase{kmsFenceCase(), evsFenceCase()} {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				runFenceCase(t, f, c)
			})
		}
	}
}

func runFenceCase(t *testing.T, f fault, c fenceCase) {
	ns := startNATSProcess(t, natsProcOptions{})
	px := startProxy(t, ns.Addr)
	seed, err := cloudsim.ParseSeed([]byte(c.seed))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	sim.SetChaos(cloudsim.Chaos{Latency: fenceLatency, Seed: 1})
	srv := startSim(t, sim)
	args := []string{"run", "--cloud-endpoint", srv.URL(), "--ack-wait", "2s", "--concurrency", "8",
		"--retry-base", "50ms", "--retry-max", "500ms", "--shutdown-timeout", "1s", "--embedded-listen", ""}
	if c.rules != "" {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		writeFile(t, path, c.rules)
		args = append(args, "--rules", path)
	}
	firstURL := "nats://" + px.Addr()
	if f.direct {
		firstURL = ns.URL()
	}
	first, firstLogs := startChild(t, append(args, "--nats-url", firstURL)...)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publishBodies(t, nc, c.events)

	// Stall the first replica once it has begun its second read of every
	// resource: it holds the leases, its write is still to come.
	waitFor(t, "the first replica's second read of every resource", func() bool { return readsBegun(sim, c) >= 2*len(c.events) })
	f.stop(first.Process, px)
	second, secondLogs := startChild(t, append(args, "--nats-url", ns.URL())...)
	time.Sleep(fenceStall)
	f.resume(first.Process, px)

	settled := waitSettledURL(t, ns.Addr, len(c.events), time.Minute)
	time.Sleep(3 * time.Second) // what the first replica does after it resumes
	for _, ch := range []*os.Process{first.Process, second.Process} {
		_ = ch.Signal(syscall.SIGTERM)
	}
	_, _ = first.Process.Wait()
	_, _ = second.Process.Wait()
	settled = countSettledConn(t, nc)

	writes := map[string]int{}
	for _, call := range sim.Calls() {
		if call.Write {
			writes[c.resource(call)]++
		}
	}
	dup := 0
	for _, n := range writes {
		dup += max(n-1, 0)
	}
	t.Logf("%s/%s: %d events, %d settled, %d write calls for %d resources (%d duplicate), %d audit records, %d events with conflicting outcomes, %d/%d compliant",
		f.name, c.name, len(c.events), settled.total(), countWrites(sim), len(writes), dup, settled.records, settled.conflicting,
		c.compliant(sim), len(c.events))
	// The first replica must have come back and been stopped by the fence:
	// otherwise the stall missed the action and the test proved nothing.
	if n := strings.Count(firstLogs.String(), `"outcome":"superseded"`); n == 0 {
		t.Error("the first replica never found its leases taken over: the stall did not land mid-action")
	} else {
		t.Logf("%s/%s: the first replica left %d deliveries to the second (outcome superseded)", f.name, c.name, n)
	}
	if dup > 0 {
		t.Errorf("%d duplicate writes: %v", dup, writes)
	}
	if settled.conflicting > 0 || settled.records != settled.audited {
		t.Errorf("%d events with conflicting final outcomes, %d records for %d events", settled.conflicting, settled.records, settled.audited)
	}
	if settled.total() != len(c.events) {
		t.Errorf("%d of %d events settled", settled.total(), len(c.events))
	}
	if n := c.compliant(sim); n != len(c.events) {
		t.Errorf("%d of %d resources compliant", n, len(c.events))
	}
	if t.Failed() {
		t.Logf("first replica:\n%s\nsecond replica:\n%s", tailLines(firstLogs.String(), 40), tailLines(secondLogs.String(), 20))
	}
}

// readsBegun counts the read calls the simulator has seen begin.
func readsBegun(sim *cloudsim.Simulator, c fenceCase) int {
	n := 0
	for _, call := range sim.Calls() {
		if !call.Write {
			n++
		}
	}
	return n
}

func tailLines(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// publishBodies creates the topology and publishes structured events.
func publishBodies(t *testing.T, nc *nats.Conn, bodies [][]byte) {
	t.Helper()
	js, _ := jetstream.New(nc)
	cfg := worker.DefaultConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := streams.EnsureTopology(ctx, js, cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	for _, body := range bodies {
		var ev struct{ ID, Source string }
		_ = json.Unmarshal(body, &ev)
		raw := events.Raw{Body: body, Source: ev.Source, ID: ev.ID}
		if _, err := streams.Publish(ctx, js, cfg.Streams(), raw, events.Structured); err != nil {
			t.Fatal(err)
		}
	}
}
