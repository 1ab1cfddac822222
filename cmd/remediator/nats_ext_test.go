package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// TestRunLogStaysJSONThroughNATSTrouble: a message whose headers nats.go
// cannot decode (an async error) and a restart of the NATS server under
// `run` leave every line of the real binary's output valid JSON, with the
// error, the disconnection and the reconnection logged.
func TestRunLogStaysJSONThroughNATSTrouble(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	_, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", "http://127.0.0.1:1", "--shutdown-timeout", "1s")
	waitFor(t, "worker_started", func() bool { return strings.Contains(logs.String(), "worker_started") })
	publishBadHeaders(t, ns.Addr, worker.DefaultConfig().Streams().IntakeSubject("HC.KMS"))
	waitFor(t, "the async error", func() bool {
		return strings.Contains(logs.String(), "nats_async_error") || strings.Contains(logs.String(), "could not decode headers")
	})
	ns.Restart()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(logs.String(), "nats_reconnected") {
			break // else the checks below say what is missing
		}
	}
	time.Sleep(200 * time.Millisecond) // let the reconnection's own lines arrive
	var bad []string
	msgs := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			bad = append(bad, line)
			continue
		}
		if m, _ := rec["msg"].(string); strings.HasPrefix(m, "nats_") {
			msgs[m]++
		}
	}
	t.Logf("%d lines that are not JSON; nats lines %v", len(bad), msgs)
	if len(bad) > 0 {
		t.Errorf("lines that are not JSON:\n%s", strings.Join(bad, "\n"))
	}
	for _, m := range []string{"nats_async_error", "nats_disconnected", "nats_reconnected"} {
		if msgs[m] == 0 {
			t.Errorf("no %s line", m)
		}
	}
}

// publishBadHeaders sends, over a raw client connection, a message whose
// header block is not NATS/1.0: the server stores and delivers it, and
// the client cannot decode it.
func publishBadHeaders(t *testing.T, addr, subject string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	hdr, body := "BOGUS\r\n\r\n", `{"a":1}`
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nHPUB %s %d %d\r\n%s%s\r\nPING\r\n",
		subject, len(hdr), len(hdr)+len(body), hdr, body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "-ERR") {
			t.Fatalf("server refused the message: %s", line)
		}
		if strings.HasPrefix(line, "PONG") {
			return
		}
	}
}

// TestRunWaitsForNATS: `run` started while nothing listens at the NATS
// address stays up, healthy and not ready, retrying (logged with the
// address, never the password); once a server starts there it becomes
// ready and handles an event.
func TestRunWaitsForNATS(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{}) // started to build it and take a port, then stopped
	ns.Stop()
	sim, keys := crashSimulator()
	srv := startSim(t, sim)
	ops := freeAddr(t)
	const password = "s3cret-pw-do-not-log"
	cmd, logs := startChild(t, "run", "--nats-url", "nats://worker:"+password+"@"+ns.Addr, "--http", ops,
		"--cloud-endpoint", srv.URL(), "--shutdown-timeout", "1s")
	status := func(path string) int {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + ops + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitForIn(t, 5*time.Second, "/healthz while NATS is down", func() bool { return status("/healthz") == 200 }, logs)
	if c := status("/readyz"); c != 503 {
		t.Errorf("/readyz %d while NATS is down, want 503", c)
	}
	waitForIn(t, 5*time.Second, "two logged retries", func() bool { return strings.Count(logs.String(), "nats_connect_retry") >= 2 }, logs)
	line := waitMatch(t, logs, `(\{[^\n]*"msg":"nats_connect_retry"[^\n]*\})`)
	if !strings.Contains(line, `"server":"nats://`+ns.Addr+`"`) || !strings.Contains(line, "connection refused") {
		t.Errorf("the retry line does not name the address and cause: %s", line)
	}

	ns.start()
	waitForIn(t, 15*time.Second, "/readyz once NATS is up", func() bool { return status("/readyz") == 200 }, logs)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ids := publishDrift(t, nc, keys[:1], "late")
	if got := waitOutcomes(t, logs, ids); got["remediated"] != 1 {
		t.Errorf("outcomes %v, want the event remediated", got)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(logs.String(), password) {
		t.Error("the password appears in the logs")
	}
}

// TestRunSIGTERMWhileWaitingForNATS: a signal ends the wait for NATS at
// once, with exit 0.
func TestRunSIGTERMWhileWaitingForNATS(t *testing.T) {
	t.Parallel()
	cmd, logs := startChild(t, "run", "--nats-url", "nats://"+freeAddr(t), "--cloud-endpoint", "http://127.0.0.1:1")
	waitForIn(t, 10*time.Second, "a logged retry", func() bool { return strings.Contains(logs.String(), "nats_connect_retry") }, logs)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
		t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatalf("still running 3s after SIGTERM\n%s", logs.String())
	}
}

// TestConflictingCEIDIsDeadLettered publishes a binary-mode event with
// ce-id and CE-ID carrying different ids through the nats.go client: the
// real binary dead-letters it as invalid_event instead of handling it
// under whichever id a map walk met first.
func TestConflictingCEIDIsDeadLettered(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	sim, keys := crashSimulator()
	srv := startSim(t, sim)
	_, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--shutdown-timeout", "1s")
	waitFor(t, "worker_started", func() bool { return strings.Contains(logs.String(), "worker_started") })
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cfg := worker.DefaultConfig()
	data, _ := json.Marshal(map[string]any{"trace_name": "disableKeyRotation", "code": "200",
		"resource_id": keys[0], "project_id": crashProject, "region_id": "cn-north-4"})
	msg := &nats.Msg{Subject: cfg.Streams().IntakeSubject("HC.KMS"), Data: data, Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-source": {"HC.KMS"}, "ce-type": {"KMS:CloudTrace:ApiCall"},
		"content-type": {"application/json"}, "ce-id": {"dup-a"}, "CE-ID": {"dup-b"}}}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var reason string
	waitFor(t, "a decision or a dead letter", func() bool {
		ctx := context.Background()
		if st, err := js.Stream(ctx, cfg.DLQStream); err == nil {
			if info, err := st.Info(ctx); err == nil && info.State.Msgs > 0 {
				if m, err := st.GetMsg(ctx, info.State.FirstSeq); err == nil {
					reason = m.Header.Get(streams.HeaderReason)
					return true
				}
			}
		}
		return strings.Contains(logs.String(), `"outcome":"remediated"`)
	})
	t.Logf("dead-letter reason %q; writes %d", reason, countWrites(sim))
	if reason != "invalid_event" {
		t.Errorf("dead-letter reason %q, want invalid_event\n%s", reason, tail(logs.String(), 2000))
	}
	if n := countWrites(sim); n != 0 {
		t.Errorf("%d writes for an event with two ids", n)
	}
}

func countWrites(sim *cloudsim.Simulator) int {
	n := 0
	for _, c := range sim.Calls() {
		if c.Write {
			n++
		}
	}
	return n
}

// waitForIn is waitFor with its own limit, printing the logs on failure.
func waitForIn(t *testing.T, limit time.Duration, what string, cond func() bool, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, tail(logs.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
