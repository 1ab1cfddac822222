package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/remediator/remediator/worker/cloudsim"
)

// TestRunExportsTraces: with --otel-endpoint, run exports the spans of the
// rules it ran over OTLP/HTTP (flushed at shutdown).
func TestRunExportsTraces(t *testing.T) {
	t.Setenv("NATS_URL", "")
	var posts, bytesIn atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			b, _ := io.ReadAll(r.Body)
			posts.Add(1)
			bytesIn.Add(int64(len(b)))
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := cloudsim.Start("127.0.0.1:0", cloudsim.New(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Close(context.Background()) }()
	simURL := sim.URL()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"run", "--data-dir", t.TempDir(), "--embedded-listen", "127.0.0.1:0", "--cloud-endpoint", simURL,
			"--otel-endpoint", collector.URL}, &out, &errb)
	}()
	natsURL := waitMatch(t, &errb, `"client_url":"([^"]+)"`)
	waitFor(t, "worker_started", func() bool { return strings.Contains(errb.String(), "worker_started") })
	var rout, rerr syncBuffer
	if c := run(context.Background(), []string{"replay", "--nats-url", natsURL, "../../testdata/events/01-huawei-cts-rotation-disabled.json"}, &rout, &rerr); c != 0 {
		t.Fatalf("replay: %s %s", rout.String(), rerr.String())
	}
	waitFor(t, "the decision", func() bool { return strings.Contains(errb.String(), `"outcome":"remediated"`) })
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d", c)
	}
	if posts.Load() == 0 || bytesIn.Load() == 0 {
		t.Errorf("no spans exported (%d posts, %d bytes)", posts.Load(), bytesIn.Load())
	}
}
