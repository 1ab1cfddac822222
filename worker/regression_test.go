package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/guard"
	"github.com/remediator/remediator/worker/huawei"
	"github.com/remediator/remediator/worker/ledger"
	"github.com/remediator/remediator/worker/streams"
)

const (
	rvProject = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"
	rvKeyOff  = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	rvKeyOff2 = "2c3d4e5f-1111-4111-8111-00000000beef"
)

const rvSeed = `
huawei:
  projects:
    ` + rvProject + `:
      region: cn-north-4
      kms_keys:
        - {id: ` + rvKeyOff + `, state: enabled, rotation: false, origin: kms, spec: AES_256}
        - {id: ` + rvKeyOff2 + `, state: enabled, rotation: false, origin: kms, spec: AES_256}
`

// Regression tests for the bugs a review of the fencing, waits and storm
// changes found; each failed before its fix.

// flakyKV wraps a KeyValue and can fail chosen calls.
type flakyKV struct {
	jetstream.KeyValue
	mu sync.Mutex
	// updateHook, when set, decides what an Update does: it returns
	// (apply, errToReturn).
	updateHook func(key string) (apply bool, err error)
	getHook    func(key string) error
}

func (f *flakyKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	f.mu.Lock()
	h := f.updateHook
	f.mu.Unlock()
	if h != nil {
		apply, err := h(key)
		if err != nil {
			if apply {
				_, _ = f.KeyValue.Update(ctx, key, value, rev)
			}
			return 0, err
		}
	}
	return f.KeyValue.Update(ctx, key, value, rev)
}

func (f *flakyKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	f.mu.Lock()
	h := f.getHook
	f.mu.Unlock()
	if h != nil {
		if err := h(key); err != nil {
			return nil, err
		}
	}
	return f.KeyValue.Get(ctx, key)
}

type rv struct {
	t    *testing.T
	js   jetstream.JetStream
	sim  *cloudsim.Simulator
	mem  *audit.Memory
	logs *observer.ObservedLogs
	w    *Worker
	cfg  Config
	stop func()
}

func rvSetup(t *testing.T, ruleYAML string, cfgf func(*Config), before func(*Worker)) *rv {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	seed, err := cloudsim.ParseSeed([]byte(rvSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	hw := huawei.New(huawei.Config{
		Credentials: huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint:    hs.URL, Timeout: 1 * time.Second,
	})
	ali := alibaba.New(alibaba.Config{Credentials: alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: cloudsim.DemoSecretKey},
		Endpoint: hs.URL, Timeout: 1 * time.Second})
	reg, err := action.NewRegistry(append(hw.Actions(), ali.Actions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	var set *rules.Set
	if ruleYAML == "" {
		set, err = rules.Builtin(reg)
	} else {
		set, err = rules.Parse(reg, "r.yaml", []byte(ruleYAML))
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Concurrency, cfg.AckWait, cfg.MaxDeliver = 4, 3*time.Second, 4
	cfg.RetryBase, cfg.ThrottleBase, cfg.RetryMax, cfg.ShutdownTimeout = 20*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond, 3*time.Second
	if cfgf != nil {
		cfgf(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	mem := audit.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := New(ctx, cfg, Deps{JetStream: js, Rules: set, Actions: reg, Recorder: mem, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(w)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := &rv{t: t, js: js, sim: sim, mem: mem, logs: logs, w: w, cfg: w.cfg}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
	return r
}

func rvEvent(id, key string) events.Raw {
	body, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "HC.KMS", "type": "KMS:CloudTrace:ApiCall",
		"time": "2026-11-20T08:15:30.123456789Z", "datacontenttype": "application/json",
		"data": map[string]any{
			"trace_name": "disableKeyRotation", "code": "200", "resource_id": key, "resource_type": "cmk",
			"project_id": rvProject, "region_id": "cn-north-4", "service_type": "KMS",
			"user": map[string]any{"name": "ops-alice"}, "request": `{"key_id":"` + key + `"}`,
		},
	})
	return events.Raw{Body: body, Source: "HC.KMS", ID: id, Type: "KMS:CloudTrace:ApiCall"}
}

func (r *rv) publish(e events.Raw) {
	r.t.Helper()
	if _, err := streams.Publish(context.Background(), r.js, r.cfg.Streams(), e, events.Structured); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rv) waitFinal(n int, within time.Duration) []audit.Decision {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	fin := func(ds []audit.Decision) []audit.Decision {
		var out []audit.Decision
		for _, d := range ds {
			if d.Final {
				out = append(out, d)
			}
		}
		return out
	}
	if err := r.mem.Wait(ctx, func(ds []audit.Decision) bool { return len(fin(ds)) >= n }); err != nil {
		r.t.Fatalf("waiting for %d final decisions: %+v", n, r.mem.Decisions())
	}
	return fin(r.mem.Decisions())
}

func (r *rv) decisionLogs() []string {
	var out []string
	for _, e := range r.logs.FilterMessage("decision").All() {
		m := e.ContextMap()
		out = append(out, fmt.Sprintf("rule=%v outcome=%v reason=%v attempt=%v err=%v t=%s", m["rule"], m["outcome"], m["reason"], m["attempt"], m["error"], e.Time.Format("15:04:05.000")))
	}
	return out
}

// TestFenceTransientErrorIsRetried: a fence whose renewal fails for a
// reason other than someone else's write (a timeout) sends no write and
// retries the attempt; it used to abandon the message (Superseded) until
// the ack wait passed.
func TestFenceTransientErrorIsRetried(t *testing.T) {
	var fail atomic.Int32
	fail.Store(1)
	var fkv *flakyKV
	r := rvSetup(t, "", nil, func(w *Worker) {
		fkv = &flakyKV{KeyValue: ledgerKV(w)}
		fkv.updateHook = func(key string) (bool, error) {
			if strings.HasPrefix(key, "e.") && fail.Add(-1) == 0 {
				return false, nats.ErrTimeout
			}
			return false, nil
		}
		w.ledger = ledger.New(fkv, w.cfg.AckWait)
	})
	start := time.Now()
	r.publish(rvEvent("fence-1", rvKeyOff))
	ds := r.waitFinal(1, 15*time.Second)
	took := time.Since(start)
	for _, l := range r.decisionLogs() {
		t.Log(l)
	}
	t.Logf("final: %s/%s attempt %d after %s; writes %d", ds[0].Outcome, ds[0].Reason, ds[0].Attempt, took, r.sim.Writes(""))
	if took > r.cfg.AckWait || ds[0].Outcome != audit.Remediated {
		t.Errorf("a transient ledger error before the write: final %s after %s (ack wait %s), want remediated by a retry before the ack wait", ds[0].Outcome, took, r.cfg.AckWait)
	}
	if n := r.sim.Writes(""); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
}

// TestRenewAppliedButAnswerLost: a renewal the server applied but whose
// answer was lost (a timeout) makes the next compare-and-set see our own
// write; the lease must still be recognised as ours (same owner), not
// judged someone else's and left unreleased and unrecorded.
func TestRenewAppliedButAnswerLost(t *testing.T) {
	var fail atomic.Int32
	fail.Store(1)
	r := rvSetup(t, "", nil, func(w *Worker) {
		fkv := &flakyKV{KeyValue: ledgerKV(w)}
		fkv.updateHook = func(key string) (bool, error) {
			if strings.HasPrefix(key, "e.") && fail.Add(-1) == 0 {
				return true, nats.ErrTimeout // applied, answer lost
			}
			return false, nil
		}
		w.ledger = ledger.New(fkv, w.cfg.AckWait)
	})
	start := time.Now()
	r.publish(rvEvent("fence-2", rvKeyOff))
	ds := r.waitFinal(1, 20*time.Second)
	for _, l := range r.decisionLogs() {
		t.Log(l)
	}
	took := time.Since(start)
	t.Logf("final: %s attempt %d after %s; writes %d", ds[0].Outcome, ds[0].Attempt, took, r.sim.Writes(""))
	if ds[0].Outcome != audit.Remediated || took > r.cfg.AckWait {
		t.Errorf("final %s after %s, want remediated before the ack wait %s", ds[0].Outcome, took, r.cfg.AckWait)
	}
	for _, e := range r.logs.FilterMessage("decision").All() {
		if e.ContextMap()["outcome"] == string(audit.Superseded) {
			t.Errorf("a lease still ours was judged taken over: %v", e.ContextMap())
		}
	}
}

// TestWaitCountUnreadable: when the wait count of a message cannot be read
// (a transient error), its delivery is marked uncertain, so it is not
// dead-lettered for attempts that may have been waits.
func TestWaitCountUnreadable(t *testing.T) {
	r := rvSetup(t, "", nil, nil)
	ctx := context.Background()
	meta := &jetstream.MsgMetadata{Stream: r.cfg.Stream, NumDelivered: 10}
	meta.Sequence.Stream = 77
	r.w.addWait(ctx, meta, delivery{waits: 7}, false) // 8 waits recorded
	good := r.w.deliveryOf(ctx, meta)
	fkv := &flakyKV{KeyValue: ledgerKV(r.w), getHook: func(key string) error {
		if strings.HasPrefix(key, "w.") {
			return context.DeadlineExceeded
		}
		return nil
	}}
	r.w.ledger = ledger.New(fkv, r.w.cfg.AckWait)
	bad := r.w.deliveryOf(ctx, meta)
	t.Logf("waits readable: %+v; unreadable: %+v; MaxDeliver %d", good, bad, r.cfg.MaxDeliver)
	if good.attempt != 2 || good.uncertain || !bad.uncertain {
		t.Errorf("readable %+v, want attempt 2; unreadable %+v, want uncertain", good, bad)
	}
}

// TestMultiRuleBusyAfterAWriteReadsTheLedger: a delivery that completed
// rule a (a write, a done record) and then found rule b busy waits (no
// attempt spent), but the wait is marked worked, so the redelivery reads
// rule a's outcome from the ledger. Before, the redelivery was "on its
// first attempt" and rule a was answered from the observation its own
// first delivery made (already_compliant) although it wrote.
func TestMultiRuleBusyAfterAWriteReadsTheLedger(t *testing.T) {
	ruleYAML := `rules:
  - name: a-rotate
    match: {type: "KMS:CloudTrace:*"}
    when: finding.drift == "kms.key_rotation_disabled"
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: finding.project}, key_id: {expr: finding.resource_id}}
  - name: b-limited
    match: {type: "KMS:CloudTrace:*"}
    when: finding.drift == "kms.key_rotation_disabled"
    limits: {writes: 1, per: 1h}
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: finding.project}, key_id: {expr: '"` + rvKeyOff2 + `"'}}
`
	r := rvSetup(t, ruleYAML, nil, func(w *Worker) {
		// Another replica's event holds rule b's only write slot for 400 ms.
		kv, err := w.js.KeyValue(context.Background(), w.cfg.LimitsBucket)
		if err != nil {
			t.Fatal(err)
		}
		b := fmt.Appendf(nil, `{"held":[{"id":"other-replica-1","until":%d}]}`, time.Now().Add(400*time.Millisecond).UnixNano())
		if _, err := kv.Put(context.Background(), guard.LimitKey("b-limited"), b); err != nil {
			t.Fatal(err)
		}
	})
	r.publish(rvEvent("multi-1", rvKeyOff))
	ds := r.waitFinal(2, 20*time.Second)
	for _, l := range r.decisionLogs() {
		t.Log(l)
	}
	writes := 0
	for _, c := range r.sim.Calls() {
		if c.Write && c.Done {
			writes++
			t.Logf("write: %s %v", c.Op, c.Status)
		}
	}
	var a audit.Decision
	for _, d := range ds {
		t.Logf("final: rule=%s outcome=%s reason=%s attempt=%d", d.Rule, d.Outcome, d.Reason, d.Attempt)
		if d.Rule == "a-rotate" {
			a = d
		}
	}
	e, err := ledgerKV(r.w).Get(context.Background(), ledger.EventKey("HC.KMS", "multi-1", "a-rotate"))
	if err == nil {
		t.Logf("ledger for rule a: %s", e.Value())
	}
	if a.Outcome != audit.Remediated {
		t.Errorf("rule a's final audit outcome is %s/%s, but its first delivery wrote (%d writes) and the ledger says remediated", a.Outcome, a.Reason, writes)
	}
}

// ledgerKV is the worker's ledger bucket, for tests that wrap it.
func ledgerKV(w *Worker) jetstream.KeyValue {
	kv, err := w.js.KeyValue(context.Background(), w.cfg.LedgerBucket)
	if err != nil {
		panic(err)
	}
	return kv
}
