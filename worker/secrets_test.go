package worker_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/huawei"
	"github.com/remediator/remediator/worker/streams"
)

// TestSecretsNeverLeak runs failing calls of both providers with
// recognisable secrets and checks that no log line, dead-letter header or
// audit record carries them.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const hwSecret, aliSecret, token = "HW-SECRET-must-not-leak", "ALI-SECRET-must-not-leak", "STS-TOKEN-must-not-leak"
	_, _, js := embeddedtest.Start(t)
	seed, _ := cloudsim.LoadSeed("../testdata/cloudsim/demo.yaml")
	hs := httptest.NewServer(cloudsim.New(seed))
	t.Cleanup(hs.Close)
	hw := huawei.New(huawei.Config{Credentials: huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: hwSecret, SecurityToken: token}, Endpoint: hs.URL})
	ali := alibaba.New(alibaba.Config{Credentials: alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: aliSecret}, Endpoint: hs.URL})
	reg, _ := action.NewRegistry(append(hw.Actions(), ali.Actions()...)...)
	set, err := rules.LoadWithBuiltin(reg, "../testdata/rules/demo")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg := worker.DefaultConfig()
	mem := audit.NewMemory()
	w, err := worker.New(context.Background(), cfg, worker.Deps{JetStream: js, Rules: set, Actions: reg,
		Recorder: audit.Tee(audit.NewStream(js, cfg.AuditConfig()), mem), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	raws, err := events.ReadFixtures("../testdata/events/01-huawei-cts-rotation-disabled.json", "../testdata/events/10-alibaba-actiontrail-modify-default-key.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raws {
		if _, err := streams.Publish(ctx, js, cfg.Streams(), r, events.Binary); err != nil {
			t.Fatal(err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := mem.Wait(wctx, func([]audit.Decision) bool { return len(mem.Final()) == 2 }); err != nil {
		t.Fatalf("decisions: %+v", mem.Decisions())
	}
	var texts []string
	for _, d := range mem.Decisions() {
		if d.Reason != "auth_failed" {
			t.Errorf("decision %+v, want auth_failed: the wrong secrets must be refused", d)
		}
		texts = append(texts, fmt.Sprintf("%+v", d))
	}
	for _, e := range logs.All() {
		texts = append(texts, e.Message+fmt.Sprint(e.ContextMap()))
	}
	for _, stream := range []string{cfg.DLQStream, cfg.AuditStream} {
		readStream(t, js, stream, func(m jetstream.Msg) { texts = append(texts, fmt.Sprint(m.Headers())+string(m.Data())) })
	}
	for _, s := range texts {
		for _, secret := range []string{hwSecret, aliSecret, token} {
			if strings.Contains(s, secret) {
				t.Errorf("a secret leaked: %s", s)
			}
		}
	}
}

func readStream(t *testing.T, js jetstream.JetStream, name string, f func(jetstream.Msg)) {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(100, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		f(m)
	}
}
