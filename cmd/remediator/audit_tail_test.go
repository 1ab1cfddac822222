package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

// toolServer is a JetStream server with the worker's topology, as `run`
// leaves it, for the tool commands.
type toolServer struct {
	ns  *embedded.Server
	js  jetstream.JetStream
	cfg worker.Config
	rec *audit.Stream
}

func startToolServer(t *testing.T, o embedded.Options, topology bool) *toolServer {
	t.Helper()
	o.StoreDir, o.Listen = t.TempDir(), "127.0.0.1:0"
	ns, err := embedded.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect(nats.UserInfo(o.Username, o.Password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	s := &toolServer{ns: ns, js: js, cfg: worker.DefaultConfig()}
	if topology {
		if _, err := streams.EnsureTopology(context.Background(), js, s.cfg.Streams()); err != nil {
			t.Fatal(err)
		}
	}
	s.rec = audit.NewStream(js, s.cfg.AuditConfig())
	return s
}

// record stores one audit record of event id.
func (s *toolServer) record(t *testing.T, id, rule string, oc audit.Outcome) {
	t.Helper()
	err := s.rec.Record(context.Background(), audit.Decision{Event: audit.Event{EventID: id, EventSource: "test", EventType: "t"},
		Result: audit.Result{Rule: rule, Action: "huawei.kms.enable-key-rotation", Outcome: oc}, Final: true})
	if err != nil {
		t.Fatal(err)
	}
}

// cli runs the command in-process against the server; it returns the
// exit code, stdout and stderr.
func (s *toolServer) cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--nats-url", s.ns.ClientURL()), &out, &errb)
	return code, out.String(), errb.String()
}

// events returns the event ids of the records in audit tail's output, in
// order (table or JSON Lines).
func tailIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if m := regexp.MustCompile(`event=(\S+)$`).FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
			continue
		}
		if strings.HasPrefix(line, "{") {
			var ev struct {
				Data audit.Record `json:"data"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("not JSON Lines: %q: %v", line, err)
			}
			ids = append(ids, ev.Data.Event.ID)
		}
	}
	return ids
}

func seqIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("ev-%02d", i))
	}
	return ids
}

// TestAuditTail: audit tail prints the last 10 records and exits, -n N the
// last N, with filters the last N of those, --all every one, -o json one
// CloudEvent a line; an empty stream exits at once.
func TestAuditTail(t *testing.T) {
	t.Parallel()
	s := startToolServer(t, embedded.Options{}, true)
	code, out, errOut := s.cli("audit", "tail")
	if code != 0 || !strings.HasPrefix(out, "TIME ") || len(tailIDs(t, out)) != 0 || !strings.Contains(errOut, "no audit records") {
		t.Fatalf("empty stream: exit %d\n%s%s", code, out, errOut)
	}
	// ev-01..ev-30; every third dead-lettered; rule-b on ev-25 and ev-28.
	for i := 1; i <= 30; i++ {
		oc, rule := audit.Remediated, "rule-a"
		if i%3 == 0 {
			oc = audit.DeadLettered
		}
		if i == 25 || i == 28 {
			rule = "rule-b"
		}
		s.record(t, fmt.Sprintf("ev-%02d", i), rule, oc)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, seqIDs(21, 30)},
		{[]string{"-n", "3"}, seqIDs(28, 30)},
		{[]string{"-n", "4", "--outcome", "dead_lettered"}, []string{"ev-21", "ev-24", "ev-27", "ev-30"}},
		{[]string{"-n", "3", "--outcome", "remediated"}, []string{"ev-26", "ev-28", "ev-29"}},
		{[]string{"-n", "12", "--outcome", "dead_lettered"}, []string{"ev-03", "ev-06", "ev-09", "ev-12", "ev-15", "ev-18", "ev-21", "ev-24", "ev-27", "ev-30"}},
		{[]string{"-n", "5", "--rule", "rule-b"}, []string{"ev-25", "ev-28"}},
		{[]string{"--rule", "rule-b", "--outcome", "remediated,dead_lettered"}, []string{"ev-25", "ev-28"}},
		{[]string{"--all"}, seqIDs(1, 30)},
		{[]string{"--all", "--count", "3"}, seqIDs(1, 30)},
		{[]string{"-n", "2", "-o", "json"}, seqIDs(29, 30)},
		{[]string{"--since", "1h", "-n", "2"}, seqIDs(29, 30)},
		{[]string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
		{[]string{"-n", "0"}, nil},
	} {
		code, out, errOut := s.cli(append([]string{"audit", "tail"}, tc.args...)...)
		if got := tailIDs(t, out); code != 0 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("audit tail %v: exit %d, got %v, want %v\n%s%s", tc.args, code, got, tc.want, out, errOut)
		}
		json := strings.Contains(strings.Join(tc.args, " "), "json")
		if json == strings.HasPrefix(out, "TIME ") {
			t.Errorf("audit tail %v: a header line only in tables:\n%s", tc.args, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--outcome", "failed"}, "--outcome failed: no such outcome; the outcomes are remediated,"},
		{[]string{"-o", "yaml"}, "-o yaml: unknown output format; this command writes table, json"},
		{[]string{"--all", "-n", "3"}, "give --all (every record) or -n N (the last N), not both"},
		{[]string{"--since", "yesterday"}, "--since yesterday: want a duration back from now (1h, 30m) or an RFC 3339 time"},
	} {
		if code, out, errOut := s.cli(append([]string{"audit", "tail"}, tc.args...)...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("audit tail %v: exit %d, want %q\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

// TestAuditTailFollow: -f prints the last N, then new records as they are
// stored, until interrupted; -n 0 -f only the new ones.
func TestAuditTailFollow(t *testing.T) {
	t.Parallel()
	s := startToolServer(t, embedded.Options{}, true)
	for i := 1; i <= 5; i++ {
		s.record(t, fmt.Sprintf("ev-%02d", i), "rule-a", audit.Remediated)
	}
	for _, tc := range []struct {
		n    string
		want []string
	}{{"2", []string{"ev-04", "ev-05", "new-1"}}, {"0", []string{"new-2"}}} {
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		done := make(chan int)
		go func() {
			done <- run(ctx, []string{"audit", "tail", "-f", "-n", tc.n, "--outcome", "remediated", "-o", "json", "--nats-url", s.ns.ClientURL()}, &out, &out)
		}()
		waitFor(t, "the last records", func() bool { return len(tailIDs(t, out.String())) >= len(tc.want)-1 })
		time.Sleep(200 * time.Millisecond) // the follower is past the last record
		s.record(t, "skipped-"+tc.n, "rule-a", audit.DeadLettered)
		s.record(t, tc.want[len(tc.want)-1], "rule-a", audit.Remediated)
		waitFor(t, "the new record", func() bool { return len(tailIDs(t, out.String())) == len(tc.want) })
		cancel()
		select {
		case code := <-done:
			if got := tailIDs(t, out.String()); code != 0 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("-n %s -f: exit %d, got %v, want %v", tc.n, code, got, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("audit tail -f did not stop when interrupted")
		}
	}
}

// TestToolCommandsReadRunsConfig: a config file written for run serves the
// tool commands: its connection settings and stream names apply, its
// other keys are ignored, an unknown key is an error with file:line.
func TestToolCommandsReadRunsConfig(t *testing.T) {
	t.Parallel()
	s := startToolServer(t, embedded.Options{}, true)
	s.record(t, "ev-config", "rule-a", audit.Remediated)
	dir := t.TempDir()
	good := filepath.Join(dir, "run.yaml")
	writeFile(t, good, fmt.Sprintf("nats_url: %s\nconcurrency: 3\ndry_run: true\nrules: [a.yaml, b.yaml]\n", s.ns.ClientURL()))
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"audit", "tail", "--config", good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "event=ev-config") {
		t.Fatalf("audit tail --config: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// dry_run is run's: it does not make a redrive a dry run.
	out.Reset()
	if code := run(context.Background(), []string{"dlq", "redrive", "--config", good}, &out, &errb); code != 0 || out.String() != "redriven 0\n" {
		t.Errorf("dlq redrive --config (dry_run: true): exit %d\n%s%s", code, out.String(), errb.String())
	}
	other := filepath.Join(dir, "other.yaml")
	writeFile(t, other, fmt.Sprintf("nats_url: %s\ndlq_stream: OTHER_DLQ\n", s.ns.ClientURL()))
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"dlq", "list", "--config", other}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "no stream OTHER_DLQ on "+s.ns.ClientURL()) || !strings.Contains(errb.String(), "--dlq-stream (from dlq_stream in "+other+":2)") {
		t.Errorf("dlq list with dlq_stream: OTHER_DLQ: exit %d\n%s%s", code, out.String(), errb.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "concurrency: 3\naudit_stream: X\n")
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"audit", "tail", "--config", bad}, &out, &errb); code != 1 || !strings.Contains(errb.String(), bad+":2:1: audit_stream: unknown option") {
		t.Errorf("unknown key: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
