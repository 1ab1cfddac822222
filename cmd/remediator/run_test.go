package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunEmbeddedSaysSoFirst: without a NATS URL, run starts an embedded
// server under --data-dir and its first log line says so; cancelling (as a
// signal does) shuts it down with exit 0.
func TestRunEmbeddedSaysSoFirst(t *testing.T) {
	t.Setenv("NATS_URL", "")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"run", "--data-dir", dir, "--embedded-listen", "127.0.0.1:0"}, &out, &errb)
	}()
	waitFor(t, "worker_started", func() bool { return strings.Contains(errb.String(), "worker_started") })
	first := strings.SplitN(errb.String(), "\n", 2)[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatalf("first log line is not JSON: %q", first)
	}
	if rec["msg"] != "embedded_nats_started" || rec["data_dir"] != dir {
		t.Errorf("first log line %q", first)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("no JetStream store under the data dir: %v", err)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d: %s", c, errb.String())
	}
	if !strings.Contains(errb.String(), "shutdown_complete") {
		t.Errorf("no shutdown_complete line:\n%s", errb.String())
	}
}
