package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestOpsEndpoints: run serves /healthz, /readyz and /metrics, and the
// metrics count a processed event.
func TestOpsEndpoints(t *testing.T) {
	t.Setenv("NATS_URL", "")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"run", "--data-dir", t.TempDir(), "--embedded-listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
			"--cloud-endpoint", "http://127.0.0.1:1"}, &out, &errb)
	}()
	addr := waitMatch(t, &errb, `"msg":"ops_listening","addr":"([^"]+)"`)
	natsURL := waitMatch(t, &errb, `"client_url":"([^"]+)"`)
	waitFor(t, "worker_started", func() bool { return strings.Contains(errb.String(), "worker_started") })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Errorf("healthz %d", c)
	}
	if c, _ := get("/readyz"); c != 200 {
		t.Errorf("readyz %d", c)
	}
	if c, _ := get("/debug/pprof/"); c != http.StatusNotFound {
		t.Errorf("profiles served without --pprof: %d", c)
	}
	var rout, rerr syncBuffer
	if c := run(context.Background(), []string{"replay", "--nats-url", natsURL, "../../testdata/events/04-huawei-cts-rotation-disable-failed.json"}, &rout, &rerr); c != 0 {
		t.Fatalf("replay: %s %s", rout.String(), rerr.String())
	}
	waitFor(t, "the event in the metrics", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `remediator_events_total{form="cts",outcome="no_match"} 1`)
	})
	_, m := get("/metrics")
	for _, want := range []string{"remediator_dlq_messages 0", "remediator_event_latency_seconds_count 1", "go_goroutines",
		"remediator_ready 1", "remediator_consumer_pending 0", "remediator_consumer_ack_pending 0", "remediator_consumer_paused 0", "remediator_circuits_open 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Paused, an event waits in the consumer: the gauges say both.
	if c := run(context.Background(), []string{"control", "pause", "--nats-url", natsURL}, &rout, &rerr); c != 0 {
		t.Fatalf("control pause: %s %s", rout.String(), rerr.String())
	}
	if c := run(context.Background(), []string{"replay", "--nats-url", natsURL, "../../testdata/events/02-huawei-cts-rotation-disabled-already-on.json"}, &rout, &rerr); c != 0 {
		t.Fatalf("replay: %s %s", rout.String(), rerr.String())
	}
	waitFor(t, "the pause and the waiting event in the metrics", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, "remediator_consumer_paused 1") && strings.Contains(m, "remediator_consumer_pending 1")
	})
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d", c)
	}
}

func waitMatch(t *testing.T, b *syncBuffer, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var got string
	waitFor(t, pattern, func() bool {
		m := re.FindStringSubmatch(b.String())
		if m != nil {
			got = m[1]
		}
		return m != nil
	})
	return got
}

// TestOpsPprof: with --pprof the ops server serves Go's profiles.
func TestOpsPprof(t *testing.T) {
	t.Parallel()
	ops, err := serveOps(opsOptions{listen: "127.0.0.1:0", pprof: true}, newBaseRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer ops.close()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/profile?seconds=1"} {
		resp, err := http.Get("http://" + ops.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("%s: %d, %d bytes", path, resp.StatusCode, len(b))
		}
	}
}
