package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/guard"
)

// runTool runs the remediator binary (this test binary, as TestMain
// makes it) with env added to a clean environment: no NATS_*, no
// REMEDIATOR_*, HOME and XDG_CONFIG_HOME in a temporary directory unless
// env sets them.
func runTool(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	home := t.TempDir()
	cmd.Env = []string{"REMEDIATOR_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish\n%s%s", args, out.String(), errb.String())
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// writeContext writes a nats CLI context into xdg/nats/context.
func writeContext(t *testing.T, xdg, name string, ctx map[string]any) {
	t.Helper()
	dir := filepath.Join(xdg, "nats", "context")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ctx)
	writeFile(t, filepath.Join(dir, name+".json"), string(b))
}

// TestNATSContext: --context and NATS_CONTEXT take the URL, user and
// password from a nats CLI context; flags win over it; the password never
// shows.
func TestNATSContext(t *testing.T) {
	t.Parallel()
	const password = "ctx-s3cret-pass"
	s := startToolServer(t, embedded.Options{Username: "ops", Password: password}, true)
	s.record(t, "ev-ctx", "rule-a", audit.Remediated)
	xdg := t.TempDir()
	writeContext(t, xdg, "test", map[string]any{"description": "the test server", "url": s.ns.ClientURL(), "user": "ops", "password": password, "inbox_prefix": "_INBOX_ops"})
	writeContext(t, xdg, "jwt", map[string]any{"url": s.ns.ClientURL(), "user_jwt": "eyJ..."})
	env := []string{"XDG_CONFIG_HOME=" + xdg}
	check := func(what string, code int, out, errOut string, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, password) {
			t.Errorf("%s: exit %d, want %d and %q (and no password)\n%s%s", what, code, wantCode, want, out, errOut)
		}
	}
	code, out, errOut := runTool(t, env, "dlq", "list", "--context", "test")
	check("dlq list --context", code, out, errOut, 0, "0 dead letters")
	code, out, errOut = runTool(t, append(env, "NATS_CONTEXT=test"), "control", "status")
	check("control status with NATS_CONTEXT", code, out, errOut, 0, "running; 0 events waiting")
	code, out, errOut = runTool(t, append(env, "NATS_CONTEXT=test"), "audit", "tail", "-o", "json")
	check("audit tail with NATS_CONTEXT", code, out, errOut, 0, `"id":"ev-ctx"`)
	// Flags win over the context: the URL, then the user (whose password
	// then comes from NATS_PASSWORD, never the context).
	dead := "nats://" + deadAddr
	code, out, errOut = runTool(t, env, "dlq", "list", "--context", "test", "--nats-url", dead)
	check("--nats-url over the context", code, out, errOut, 1, "connect to "+dead+" (--nats-url): no server answered")
	code, out, errOut = runTool(t, env, "control", "status", "--context", "test", "--nats-user", "ops")
	check("--nats-user over the context", code, out, errOut, 1, `the server refused user "ops" (--nats-user)`)
	code, out, errOut = runTool(t, append(env, "NATS_PASSWORD="+password), "control", "status", "--context", "test", "--nats-user", "ops")
	check("--nats-user with NATS_PASSWORD over the context", code, out, errOut, 0, "running")
	// A context that is not there, and one with a setting remediator lacks.
	code, out, errOut = runTool(t, env, "dlq", "list", "--context", "nope")
	check("unknown context", code, out, errOut, 1, `NATS context "nope": no file `+filepath.Join(xdg, "nats", "context", "nope.json"))
	code, out, errOut = runTool(t, env, "dlq", "list", "--context", "jwt")
	check("user_jwt context", code, out, errOut, 1, "user_jwt is not supported by remediator")
}

// TestToolCommandErrors: what the tool commands say when the server, a
// stream, a dead letter or a circuit is not there, or the credentials
// are refused: the server tried and where it came from, never a secret.
func TestToolCommandErrors(t *testing.T) {
	t.Parallel()
	bare := startToolServer(t, embedded.Options{}, false)
	s := startToolServer(t, embedded.Options{}, true)
	dead := deadAddr
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"dlq", "list", "--nats-url", "nats://" + dead},
			"connect to nats://" + dead + " (--nats-url): no server answered (dial tcp " + dead + ": connect: connection refused); is nats-server running there? Name the server with --nats-url, NATS_URL or --context"},
		{[]string{"NATS_URL=nats://" + dead}, []string{"audit", "tail"}, "connect to nats://" + dead + " (NATS_URL): no server answered"},
		{[]string{"REMEDIATOR_NATS_URL=nats://" + dead}, []string{"control", "status"}, "connect to nats://" + dead + " (REMEDIATOR_NATS_URL): no server answered"},
		{nil, []string{"replay", "../../testdata/events", "--nats-url", "nats://admin:hunter2-pass@" + dead}, "connect to nats://" + dead + " (--nats-url): no server answered"},
		{nil, []string{"dlq", "list", "--nats-url", bare.ns.ClientURL()},
			"no stream REMEDIATION_DLQ on " + bare.ns.ClientURL() + ": either no worker has run against this server yet (`remediator run` creates it at start-up), or --dlq-stream (from the default) names the wrong one"},
		{nil, []string{"dlq", "show", "1", "--nats-url", bare.ns.ClientURL()}, "no stream REMEDIATION_DLQ on"},
		{nil, []string{"audit", "tail", "--nats-url", bare.ns.ClientURL()}, "no stream REMEDIATION_AUDIT on"},
		{nil, []string{"control", "status", "--nats-url", bare.ns.ClientURL()}, "no stream REMEDIATION_EVENTS on"},
		{nil, []string{"control", "pause", "--nats-url", bare.ns.ClientURL()}, "no stream REMEDIATION_EVENTS on"},
		{nil, []string{"control", "circuits", "--nats-url", bare.ns.ClientURL()}, "no KV bucket REMEDIATION_CONTROL on " + bare.ns.ClientURL() + ": no worker has run"},
		{nil, []string{"control", "status", "--consumer", "other", "--nats-url", s.ns.ClientURL()}, "no consumer other on stream REMEDIATION_EVENTS on"},
		{nil, []string{"dlq", "show", "99", "--nats-url", s.ns.ClientURL()}, "no dead letter 99 in REMEDIATION_DLQ"},
		{nil, []string{"dlq", "show", "x", "--nats-url", s.ns.ClientURL()}, `SEQ "x": want a dead letter's sequence number`},
		{nil, []string{"control", "resume", "no-such-rule", "--nats-url", s.ns.ClientURL()}, "no open circuit for no-such-rule"},
		{nil, []string{"dlq", "list", "-o", "xml"}, "-o xml: unknown output format; this command writes table, json, yaml"},
		{[]string{"REMEDIATOR_CONFIG=/nonexistent/run.yaml"}, []string{"dlq", "list"}, "--config: open /nonexistent/run.yaml: no such file or directory"},
	} {
		code, out, errOut := runTool(t, tc.env, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) || strings.Contains(out+errOut, "hunter2") || strings.Contains(out+errOut, "admin") {
			t.Errorf("%v %v: exit %d, want 1 and %q\n%s%s", tc.env, tc.args, code, tc.want, out, errOut)
		}
	}
	// Refused credentials name the user, not the password.
	auth := startToolServer(t, embedded.Options{Username: "ops", Password: "right-pass"}, true)
	code, out, errOut := runTool(t, []string{"NATS_PASSWORD=wrong-pass"}, "dlq", "list", "--nats-url", auth.ns.ClientURL(), "--nats-user", "ops")
	if code != 1 || !strings.Contains(errOut, "connect to "+auth.ns.ClientURL()+` (--nats-url): the server refused user "ops" (--nats-user)`) || strings.Contains(out+errOut, "wrong-pass") {
		t.Errorf("refused: exit %d\n%s%s", code, out, errOut)
	}
}

// TestToolCommandsJSON: dlq list and show, control status and circuits
// in -o json and yaml, with the field names README documents.
func TestToolCommandsJSON(t *testing.T) {
	t.Parallel()
	s := startToolServer(t, embedded.Options{}, true)
	ctx := context.Background()
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.cfg.DLQSubject + ".invalid_event", Data: []byte(`{"id":"dl-1"}`),
		Header: nats.Header{"Remediator-Reason": {"invalid_event"}, "Remediator-Attempts": {"2"}, "Remediator-Original-Subject": {"remediation.events.x"}}}); err != nil {
		t.Fatal(err)
	}
	kv, err := s.js.KeyValue(ctx, s.cfg.ControlBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, guard.CircuitKey("some-rule"), []byte(`{"rule":"some-rule","opened_at":"2026-01-02T03:04:05Z","until":"2026-01-02T03:34:05Z","reason":"limit"}`)); err != nil {
		t.Fatal(err)
	}
	decode := func(args []string, v any) string {
		t.Helper()
		code, out, errOut := s.cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		return out
	}
	var list []map[string]any
	out := decode([]string{"dlq", "list", "-o", "json"}, &list)
	if len(list) != 1 || list[0]["sequence"] != 1.0 || list[0]["reason"] != "invalid_event" || list[0]["attempts"] != 2.0 || list[0]["event_id"] != "dl-1" ||
		list[0]["original_subject"] != "remediation.events.x" || list[0]["data"] != nil {
		t.Errorf("dlq list -o json:\n%s", out)
	}
	var one map[string]any
	out = decode([]string{"dlq", "show", "1", "-o", "json"}, &one)
	if one["data"] != `{"id":"dl-1"}` || one["headers"].(map[string]any)["Remediator-Reason"].([]any)[0] != "invalid_event" {
		t.Errorf("dlq show -o json:\n%s", out)
	}
	if code, out, _ := s.cli("dlq", "show", "1", "-o", "yaml"); code != 0 || !strings.Contains(out, "sequence: 1\n") || !strings.Contains(out, `data: '{"id":"dl-1"}'`) {
		t.Errorf("dlq show -o yaml:\n%s", out)
	}
	var st map[string]any
	out = decode([]string{"control", "status", "-o", "json"}, &st)
	if st["paused"] != false || st["waiting"] != 0.0 || st["in_progress"] != 0.0 || st["stream"] != "REMEDIATION_EVENTS" || st["consumer"] != "remediator" {
		t.Errorf("control status -o json:\n%s", out)
	}
	var circuits []map[string]any
	out = decode([]string{"control", "circuits", "-o", "json"}, &circuits)
	if len(circuits) != 1 || circuits[0]["rule"] != "some-rule" || circuits[0]["reason"] != "limit" || circuits[0]["opened_at"] != "2026-01-02T03:04:05Z" {
		t.Errorf("control circuits -o json:\n%s", out)
	}
	if code, out, _ := s.cli("control", "circuits"); code != 0 || !strings.HasPrefix(out, "RULE ") || !strings.Contains(out, "some-rule") || !strings.Contains(out, "1 open circuits") {
		t.Errorf("control circuits:\n%s", out)
	}
	var opts []map[string]string
	var b bytes.Buffer
	if code := run(ctx, []string{"config", "options", "-o", "json"}, &b, &b); code != 0 || json.Unmarshal(b.Bytes(), &opts) != nil || len(opts) < 10 {
		t.Fatalf("config options -o json: exit %d\n%s", code, b.String())
	}
	for _, o := range opts {
		if o["key"] == "max_deliver" && (o["env"] != "REMEDIATOR_MAX_DELIVER" || o["flag"] != "--max-deliver" || o["default"] != fmt.Sprint(s.cfg.MaxDeliver)) {
			t.Errorf("config options -o json: %v", o)
		}
	}
}

// deadAddr is a loopback address no test server listens on: a port from
// freeAddr could be taken by another parallel test's server before the
// command dials it (it was, once: "Authorization Violation").
const deadAddr = "127.0.0.1:1"
