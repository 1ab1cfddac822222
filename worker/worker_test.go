package worker_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

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

const (
	project  = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"
	keyOff   = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	keyOff2  = "2c3d4e5f-1111-4111-8111-00000000beef"
	keyOn    = "1a2b3c4d-0000-4000-8000-00000000abcd"
	keyNone  = "9f9f9f9f-dead-4bee-8fee-000000000000"
	opEnable = "kms.enable-key-rotation"
)

const seedYAML = `
huawei:
  projects:
    ` + project + `:
      region: cn-north-4
      kms_keys:
        - {id: ` + keyOff + `, state: enabled, rotation: false, origin: kms, spec: AES_256}
        - {id: ` + keyOff2 + `, state: enabled, rotation: false, origin: kms, spec: AES_256}
        - {id: ` + keyOn + `, state: enabled, rotation: true, origin: kms, spec: AES_256}
`

// bundle is everything one test runs against: a real JetStream server, the
// simulator over HTTP, the real Huawei SDK, and a running worker.
type bundle struct {
	t    *testing.T
	js   jetstream.JetStream
	nc   *nats.Conn
	sim  *cloudsim.Simulator
	mem  *audit.Memory
	cfg  worker.Config
	reg  *action.Registry
	set  *rules.Set
	stop func() // stops the worker and waits for Run to return
}

type option func(*worker.Config)

func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	return setupWith(t, seedYAML, nil, opts...)
}

// setupWith is setup with another simulator seed and the providers' calls
// paced by lim (nil: not paced).
func setupWith(t *testing.T, seedText string, lim *action.RateLimiter, opts ...option) *bundle {
	t.Helper()
	_, nc, js := embeddedtest.Start(t)
	seed, err := cloudsim.ParseSeed([]byte(seedText))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	hw := huawei.New(huawei.Config{
		Credentials: huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint:    hs.URL, Timeout: 3 * time.Second, Limiter: lim,
	})
	ali := alibaba.New(alibaba.Config{Credentials: alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: cloudsim.DemoSecretKey},
		Endpoint: hs.URL, Timeout: 3 * time.Second, Limiter: lim})
	reg, err := action.NewRegistry(append(hw.Actions(), ali.Actions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Builtin(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := worker.DefaultConfig()
	cfg.Concurrency, cfg.AckWait, cfg.MaxDeliver = 4, 3*time.Second, 4
	cfg.RetryBase, cfg.ThrottleBase, cfg.RetryMax, cfg.ShutdownTimeout = 20*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond, 3*time.Second
	for _, o := range opts {
		o(&cfg)
	}
	b := &bundle{t: t, js: js, nc: nc, sim: sim, mem: audit.NewMemory(), cfg: cfg, reg: reg, set: set}
	b.start()
	return b
}

// start runs a worker until b.stop is called or the test ends.
func (b *bundle) start() {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := audit.Tee(audit.NewStream(b.js, b.cfg.AuditConfig()), b.mem)
	w, err := worker.New(ctx, b.cfg, worker.Deps{JetStream: b.js, Rules: b.set, Actions: b.reg, Recorder: rec, Logger: zaptest.NewLogger(b.t)})
	if err != nil {
		b.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	b.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			b.t.Errorf("Run: %v", err)
		}
	}
	b.t.Cleanup(b.stop)
}

func ctsEvent(id, key string) events.Raw {
	body, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "HC.KMS", "type": "KMS:CloudTrace:ApiCall",
		"time": "2026-11-20T08:15:30.123456789Z", "datacontenttype": "application/json",
		"data": map[string]any{
			"trace_name": "disableKeyRotation", "code": "200", "resource_id": key, "resource_type": "cmk",
			"project_id": project, "region_id": "cn-north-4", "service_type": "KMS",
			"user": map[string]any{"name": "ops-alice"}, "request": `{"key_id":"` + key + `"}`,
		},
	})
	return events.Raw{Body: body, Source: "HC.KMS", ID: id, Type: "KMS:CloudTrace:ApiCall"}
}

func (b *bundle) publish(r events.Raw, mode events.Mode) {
	b.t.Helper()
	if _, err := streams.Publish(context.Background(), b.js, b.cfg.Streams(), r, mode); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) publishRaw(subject string, h nats.Header, body []byte) {
	b.t.Helper()
	if _, err := b.js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Header: h, Data: body}); err != nil {
		b.t.Fatal(err)
	}
}

// waitFinal waits until n final decisions are recorded.
func (b *bundle) waitFinal(n int) []audit.Decision {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	final := func(ds []audit.Decision) []audit.Decision {
		var out []audit.Decision
		for _, d := range ds {
			if d.Final {
				out = append(out, d)
			}
		}
		return out
	}
	if err := b.mem.Wait(ctx, func(ds []audit.Decision) bool { return len(final(ds)) >= n }); err != nil {
		b.t.Fatalf("waiting for %d final decisions: got %+v", n, final(b.mem.Decisions()))
	}
	return final(b.mem.Decisions())
}

// assertDrained checks nothing is pending or unacknowledged and the
// work-queue stream is empty.
func (b *bundle) assertDrained() {
	b.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ci, err := b.js.Consumer(ctx, b.cfg.Stream, b.cfg.Consumer)
		if err != nil {
			b.t.Fatal(err)
		}
		info, err := ci.Info(ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		st, err := b.js.Stream(ctx, b.cfg.Stream)
		if err != nil {
			b.t.Fatal(err)
		}
		sinfo, err := st.Info(ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && sinfo.State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("not drained: pending %d, ack pending %d, stream msgs %d", info.NumPending, info.NumAckPending, sinfo.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetters returns every message in the dead-letter stream.
func (b *bundle) deadLetters() []jetstream.Msg { return b.streamMsgs(b.cfg.DLQStream) }

// streamMsgs returns every message in a stream.
func (b *bundle) streamMsgs(stream string) []jetstream.Msg {
	b.t.Helper()
	ctx := context.Background()
	st, err := b.js.Stream(ctx, stream)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.t.Fatal(err)
	}
	batch, err := c.Fetch(int(info.State.Msgs), jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		b.t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}
