package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/streams"
)

func TestReplayTwiceIsDeduplicated(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	wants := []string{"published 18, duplicate 0, rejected 0", "published 0, duplicate 18, rejected 0"}
	for i, want := range wants {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"replay", "--nats-url", ns.ClientURL(), "../../testdata/events"}, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), want) {
			t.Fatalf("replay %d: exit %d, out %q, err %q; want %q", i+1, code, out.String(), errb.String(), want)
		}
	}
}

func TestReplayJSONLinesAndRejects(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	dir := t.TempDir()
	lines := `{"specversion":"1.0","id":"a","source":"s","type":"t"}
{"specversion":"1.0","id":"b","source":"s","type":"t"}
not json
{"specversion":"1.0","source":"s","type":"t"}
`
	writeFile(t, dir+"/events.jsonl", lines)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"replay", "--nats-url", ns.ClientURL(), "--mode", "binary", dir}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "published 2, duplicate 0, rejected 2") {
		t.Fatalf("exit %d, out %q, err %q", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "events.jsonl:3") || !strings.Contains(errb.String(), "events.jsonl:4") {
		t.Errorf("rejections should name file:line, got %q", errb.String())
	}
}

func TestReplayFreshIDs(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	for range 2 {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"replay", "--fresh-ids", "--nats-url", ns.ClientURL(), "../../testdata/events/01-huawei-cts-rotation-disabled.json"}, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "published 1, duplicate 0, rejected 0") {
			t.Fatalf("exit %d, out %q, err %q", code, out.String(), errb.String())
		}
	}
}

func TestReplayProgress(t *testing.T) {
	t.Parallel()
	_, nc, js := embeddedtest.Start(t)
	cfg := worker.DefaultConfig()
	if _, err := streams.EnsureTopology(context.Background(), js, cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	raws, err := events.ReadFixtures("../../testdata/events")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	n, err := replayWithProgress(context.Background(), &progress, time.Nanosecond, &natsConn{nc: nc, js: js}, cfg, raws, events.Structured)
	if err != nil || n.published != len(raws) {
		t.Fatalf("%+v %v", n, err)
	}
	if !strings.Contains(progress.String(), fmt.Sprintf("replay: 1/%d events, ", len(raws))) || !strings.Contains(progress.String(), "/s, about ") {
		t.Errorf("progress lines:\n%s", progress.String())
	}
}
