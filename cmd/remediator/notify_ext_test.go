package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

// sinkReceiver is an HTTP sink on 127.0.0.1 that counts deliveries by
// Idempotency-Key, as a receiver that deduplicates would, and can be
// down (503).
type sinkReceiver struct {
	*httptest.Server
	down    atomic.Bool
	refused atomic.Int64 // requests answered 503
	delay   time.Duration
	mu      sync.Mutex
	keys    map[string]int
	bodies  []string
}

func newSinkReceiver(t *testing.T, delay time.Duration) *sinkReceiver {
	r := &sinkReceiver{keys: map[string]int{}, delay: delay}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			r.refused.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		time.Sleep(r.delay)
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.keys[req.Header.Get("Idempotency-Key")]++
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

// counts returns the distinct keys received and the deliveries beyond the
// first of each key.
func (r *sinkReceiver) counts() (unique, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.keys {
		unique++
		dups += n - 1
	}
	return unique, dups
}

// notifyFixture is a NATS server with the worker's streams, a sinks file
// naming a receiver, and the records published to the audit stream.
type notifyFixture struct {
	url, sinks string
	js         jetstream.JetStream
	rec        *audit.Stream
}

func newNotifyFixture(t *testing.T, sinksYAML string) *notifyFixture {
	t.Helper()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	cfg := worker.DefaultConfig()
	if _, err := streams.EnsureTopology(context.Background(), js, cfg.Streams()); err != nil {
		t.Fatal(err)
	}
	f := &notifyFixture{url: ns.ClientURL(), sinks: filepath.Join(t.TempDir(), "sinks.yaml"), js: js, rec: audit.NewStream(js, cfg.AuditConfig())}
	writeFile(t, f.sinks, sinksYAML)
	return f
}

// startNotify runs `remediator notify` as a child process and waits
// until it consumes.
func (f *notifyFixture) startNotify(t *testing.T, extra ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd, logs := startChild(t, append([]string{"notify", "--sinks", f.sinks, "--nats-url", f.url}, extra...)...)
	waitFor(t, "the notifier to start", func() bool { return strings.Contains(logs.String(), "notify_sink_started") })
	return cmd, logs
}

// publish records n dead-lettered decisions, each of its own event.
func (f *notifyFixture) publish(t *testing.T, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	var waits []audit.Pending
	for i := range n {
		p, err := f.rec.Start(ctx, audit.Decision{Final: true,
			Event:  audit.Event{EventID: fmt.Sprintf("%s-%d", prefix, i), EventSource: "notify-test"},
			Result: audit.Result{Rule: "huawei-kms-rotation", Action: "huawei.kms.enable-key-rotation", Outcome: audit.DeadLettered, Reason: audit.ReasonExhausted}})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, p)
	}
	for _, p := range waits {
		if err := p(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotifySinkDownAndNotifierKilled: `remediator notify` (the real
// binary) and a webhook receiver that is down (503) for 30 s while 1,000
// audit records are published; meanwhile the notifier is killed with
// SIGKILL and started again. After the receiver is back every record is
// delivered, none twice by idempotency key, and while it was down the
// notifier probed it instead of sending each record.
func TestNotifySinkDownAndNotifierKilled(t *testing.T) {
	t.Parallel()
	rcv := newSinkReceiver(t, 0)
	dir := t.TempDir()
	const token = "tok-notify-ext-SECRET"
	urlFile, tokenFile := filepath.Join(dir, "url"), filepath.Join(dir, "token")
	writeFile(t, urlFile, rcv.URL+"/hook/PATH-SECRET")
	writeFile(t, tokenFile, token)
	f := newNotifyFixture(t, fmt.Sprintf("sinks:\n  - name: ops\n    type: webhook\n    url_file: %s\n    token_file: %s\n    outcomes: [dead_lettered]\n", urlFile, tokenFile))
	args := []string{"--retry-max", "2s"}
	first, logs1 := f.startNotify(t, args...)
	rcv.down.Store(true)
	t0 := time.Now()
	f.publish(t, "outage", 1000)
	time.Sleep(time.Until(t0.Add(10 * time.Second)))
	if err := first.Process.Kill(); err != nil { // SIGKILL: no shutdown, nothing acked on the way out
		t.Fatal(err)
	}
	_ = first.Wait()
	time.Sleep(3 * time.Second) // the notifier is down too
	_, logs2 := f.startNotify(t, args...)
	time.Sleep(time.Until(t0.Add(30 * time.Second)))
	refused := rcv.refused.Load()
	rcv.down.Store(false)
	back := time.Now()
	// The records the killed notifier held come back after their ack wait
	// (2 x --timeout + 5 s); under load that can take a while.
	deadline := back.Add(45 * time.Second)
	for {
		if u, _ := rcv.counts(); u == 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would come now
	unique, dups := rcv.counts()
	t.Logf("after a 30 s outage: %d records delivered in %v, %d duplicates; %d requests refused while down",
		unique, time.Since(back).Round(time.Millisecond), dups, refused)
	if unique != 1000 {
		t.Fatalf("%d of 1000 records delivered\n%s\n%s", unique, logs1.String(), logs2.String())
	}
	if dups != 0 {
		t.Errorf("%d duplicate deliveries: no 2xx was lost, so none was expected", dups)
	}
	// Without the back-off every record would have been sent at least once
	// per notifier run (2,000 requests); with it the notifier probes.
	if refused > 200 {
		t.Errorf("%d requests to the sink while it was down: want a probe per back-off period, not one per record", refused)
	}
	for _, l := range []string{logs1.String(), logs2.String()} {
		for _, secret := range []string{"PATH-SECRET", token, rcv.URL} {
			if strings.Contains(l, secret) {
				t.Errorf("the notifier's log holds %q", secret)
			}
		}
	}
	if !strings.Contains(logs1.String(), `"notify_sink_failing"`) || !strings.Contains(logs2.String(), `"notify_sink_recovered"`) {
		t.Errorf("the outage is not logged:\n%s\n%s", logs1.String(), logs2.String())
	}
}

// TestNotifyKilledWhileDelivering: SIGKILL while records are being
// delivered, then a restart: every record arrives. A record whose 2xx came
// back but whose ack was not yet confirmed when the process died is sent
// again (at least once); there are at most as many of those as requests in
// flight (--concurrency), and the receiver drops them by key.
func TestNotifyKilledWhileDelivering(t *testing.T) {
	t.Parallel()
	rcv := newSinkReceiver(t, 3*time.Millisecond)
	urlFile := filepath.Join(t.TempDir(), "url")
	writeFile(t, urlFile, rcv.URL)
	f := newNotifyFixture(t, fmt.Sprintf("sinks:\n  - name: ops\n    type: webhook\n    url_file: %s\n", urlFile))
	first, _ := f.startNotify(t, "--concurrency", "4", "--timeout", "2s")
	f.publish(t, "kill", 1000)
	waitFor(t, "300 deliveries", func() bool { u, _ := rcv.counts(); return u >= 300 })
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill, _ := rcv.counts()
	f.startNotify(t, "--concurrency", "4", "--timeout", "2s")
	// The records the killed process held come back after the ack wait
	// (2 x --timeout + 5 s).
	waitFor(t, "1000 deliveries", func() bool { u, _ := rcv.counts(); return u == 1000 })
	time.Sleep(300 * time.Millisecond)
	unique, dups := rcv.counts()
	t.Logf("killed after %d deliveries; %d records delivered, %d duplicates", atKill, unique, dups)
	if unique != 1000 {
		t.Fatalf("%d of 1000 delivered", unique)
	}
	if dups > 4 {
		t.Errorf("%d duplicates: want at most the 4 requests in flight at the kill", dups)
	}
}

// TestRunNotifySinks: `remediator run --notify-sinks` (the real binary)
// remediates an event and posts a readable Slack message about it: the
// rule, the resource, who changed it and what was done.
func TestRunNotifySinks(t *testing.T) {
	t.Parallel()
	rcv := newSinkReceiver(t, 0)
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "slack-url")
	writeFile(t, urlFile, rcv.URL+"/services/T0/B0/XSECRET")
	sinks := filepath.Join(dir, "sinks.yaml")
	writeFile(t, sinks, "sinks:\n  - name: chat\n    type: slack\n    url_file: "+urlFile+"\n    outcomes: [remediated]\n")
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := startSim(t, cloudsim.New(seed))
	_, logs := startChild(t, "run", "--nats-url", ns.ClientURL(), "--cloud-endpoint", srv.URL(), "--notify-sinks", sinks)
	waitFor(t, "the notifier in run", func() bool { return strings.Contains(logs.String(), "notify_sink_started") })
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	raws, err := events.ReadFixtures("../../testdata/events/01-huawei-cts-rotation-disabled.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(context.Background(), js, worker.DefaultConfig().Streams(), raws[0], events.Binary); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Slack message\n"+logs.String(), func() bool { u, _ := rcv.counts(); return u == 1 })
	rcv.mu.Lock()
	body := rcv.bodies[0]
	rcv.mu.Unlock()
	var msg struct{ Text string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatalf("not a Slack message: %v: %s", err, body)
	}
	t.Logf("the Slack message:\n%s", msg.Text)
	for _, want := range []string{"*Remediated*", "Resource: `" + demoKeyOff + "`", "Changed by: ", "Done: "} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("no %q in the message:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(logs.String(), "XSECRET") {
		t.Error("the Slack URL is in run's log")
	}
}
