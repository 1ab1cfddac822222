package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

// receiver is an HTTP sink on 127.0.0.1 that keeps what it was sent and
// answers status (200 unless set).
type receiver struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		st := int(r.status.Load())
		if st/100 == 2 {
			r.mu.Lock()
			r.got = append(r.got, delivery{req.Header.Clone(), body})
			r.mu.Unlock()
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// bundle is a JetStream server with the audit stream, a recorder
// publishing to it and a log kept in memory.
type bundle struct {
	js   jetstream.JetStream
	rec  *audit.Stream
	logs *bytes.Buffer
	log  *zap.Logger
	m    *Metrics
	mu   sync.Mutex
}

func setup(t *testing.T) *bundle {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "REMEDIATION_AUDIT", Subjects: []string{"remediation.audit.>"}})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{js: js, rec: audit.NewStream(js, audit.StreamConfig{Subject: "remediation.audit"}), logs: &bytes.Buffer{}, m: NewMetrics(prometheus.NewRegistry())}
	b.log = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(lockedWriter{b}), zap.DebugLevel))
	return b
}

type lockedWriter struct{ b *bundle }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.logs.Write(p)
}

func (b *bundle) logText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs.String()
}

// start runs a notifier on sinks until the test ends; it returns once the
// sinks' consumers exist.
func (b *bundle) start(t *testing.T, sinks []SinkConfig) *Notifier {
	t.Helper()
	n, err := New(sinks, Options{Logger: b.log, Metrics: b.m, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, b.js) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, s := range sinks {
		waitFor(t, "consumer of "+s.Name, func() bool {
			_, err := b.js.Consumer(context.Background(), "REMEDIATION_AUDIT", ConsumerName(s.Name))
			return err == nil
		})
	}
	return n
}

func (b *bundle) record(t *testing.T, d audit.Decision) {
	t.Helper()
	d.Final = true
	if d.EventSource == "" {
		d.EventSource = "test"
	}
	if err := b.rec.Record(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// settled waits until the sink's consumer has been delivered the
// stream's last record and has nothing pending (the consumer's count of
// pending records is updated after the stream's, so it alone could say
// zero before a new record reached it). The tests' last record is one the
// sink's subjects take.
func (b *bundle) settled(t *testing.T, sink string) {
	t.Helper()
	waitFor(t, "sink "+sink+" to settle everything", func() bool {
		st, err := b.js.Stream(context.Background(), "REMEDIATION_AUDIT")
		if err != nil {
			return false
		}
		c, err := b.js.Consumer(context.Background(), "REMEDIATION_AUDIT", ConsumerName(sink))
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.Delivered.Stream >= st.CachedInfo().State.LastSeq && info.NumPending == 0 && info.NumAckPending == 0
	})
}

func (b *bundle) count(sink string, r Result) float64 {
	var m dto.Metric
	_ = b.m.deliveries.WithLabelValues(sink, string(r)).Write(&m)
	return m.GetCounter().GetValue()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decision(id, rule string, o audit.Outcome) audit.Decision {
	return audit.Decision{
		Event: audit.Event{EventID: id, EventSource: "test", EventType: "cts", Subject: "remediation.events.huawei",
			Finding: &events.Finding{Account: "111", Region: "cn-north-4", Actor: events.Actor{Type: "user", ID: "u-9", Name: "alice"}}},
		Result: audit.Result{Rule: rule, Action: "huawei.kms.enable-key-rotation", Outcome: o, Resource: "key-" + id,
			Before: "rotation_enabled=false", After: "rotation_enabled=true"},
	}
}

// TestWebhookBinaryMode: the webhook gets a CloudEvent in binary mode:
// the attributes as ce- headers, the record's data as the JSON body, the
// record's id also as Idempotency-Key, and the token as a bearer token.
func TestWebhookBinaryMode(t *testing.T) {
	b := setup(t)
	rcv := newReceiver(t)
	t.Setenv("NOTIFY_WH_URL", rcv.URL+"/events")
	t.Setenv("NOTIFY_WH_TOKEN", "s3cret-token")
	b.start(t, []SinkConfig{{Name: "wh", Type: TypeWebhook, URLEnv: "NOTIFY_WH_URL", TokenEnv: "NOTIFY_WH_TOKEN"}})
	d := decision("e1", "huawei-kms-rotation", audit.DeadLettered)
	d.Reason, d.Code, d.Error = audit.ReasonExhausted, "KMS.0001", "throttled"
	b.record(t, d)
	b.settled(t, "wh")
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1\n%s", len(got), b.logText())
	}
	h := got[0].header
	id := h.Get("Ce-Id")
	if !strings.HasPrefix(id, "audit-") || h.Get("Idempotency-Key") != id {
		t.Errorf("ce-id %q, Idempotency-Key %q: want the audit record's id in both", id, h.Get("Idempotency-Key"))
	}
	for k, want := range map[string]string{
		"Ce-Specversion": "1.0", "Ce-Source": "remediator", "Ce-Type": "remediator.audit.dead_lettered",
		"Ce-Subject": "huawei-kms-rotation", "Content-Type": "application/json", "Authorization": "Bearer s3cret-token",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, h.Get("Ce-Time")); err != nil {
		t.Errorf("ce-time %q: %v", h.Get("Ce-Time"), err)
	}
	var data audit.Record
	if err := json.Unmarshal(got[0].body, &data); err != nil {
		t.Fatalf("body is not the record's data: %v: %s", err, got[0].body)
	}
	if data.Outcome != audit.DeadLettered || data.Rule != "huawei-kms-rotation" || data.Reason != "exhausted" || data.Event.ID != "e1" ||
		data.Actor == nil || data.Actor.Name != "alice" || data.Account != "111" {
		t.Errorf("body = %s", got[0].body)
	}
	if strings.Contains(string(got[0].body), "specversion") {
		t.Errorf("body is a structured event, want the data only: %s", got[0].body)
	}
	if b.count("wh", Sent) != 1 {
		t.Errorf("sent = %v, want 1", b.count("wh", Sent))
	}
}

// TestSlackText: the Slack message says what drifted, who changed it,
// what was done, and for a record awaiting approval the command to
// approve it (and still reads well without an approval id).
func TestSlackText(t *testing.T) {
	b := setup(t)
	rcv := newReceiver(t)
	t.Setenv("NOTIFY_SLACK_URL", rcv.URL+"/services/T0/B0/x")
	b.start(t, []SinkConfig{{Name: "chat", Type: TypeSlack, URLEnv: "NOTIFY_SLACK_URL"}})
	b.record(t, decision("e1", "huawei-kms-rotation", audit.Remediated))
	publishRaw(t, b.js, "awaiting_approval", `{"specversion":"1.0","id":"audit-appr","source":"remediator","type":"remediator.audit.awaiting_approval",
		"subject":"alibaba-ecs-default-key","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json",
		"data":{"outcome":"awaiting_approval","rule":"alibaba-ecs-default-key","action":"alibaba.ecs.enable-default-encryption","provider":"alibaba",
		"account":"222","region":"cn-hangzhou","approval_id":"ap-42","attempts":1,"duration_ms":1,"event":{"id":"e2","source":"s","type":"t","nats_subject":"x","stream_sequence":2}}}`)
	publishRaw(t, b.js, "awaiting_approval", `{"specversion":"1.0","id":"audit-appr2","source":"remediator","type":"remediator.audit.awaiting_approval",
		"time":"2026-01-02T03:04:05Z","data":{"outcome":"awaiting_approval","rule":"r3","action":"a3","provider":"huawei","attempts":1,"duration_ms":1,"event":{"id":"e3"}}}`)
	d := decision("e4", "huawei-kms-rotation", audit.DeadLettered)
	d.Reason, d.Code, d.Error, d.Before, d.After = audit.ReasonExhausted, "KMS.0001", "the key service throttled every attempt", "", ""
	b.record(t, d)
	b.settled(t, "chat")
	texts := map[string]string{}
	for _, g := range rcv.deliveries() {
		var m struct{ Text string }
		if err := json.Unmarshal(g.body, &m); err != nil || g.header.Get("Content-Type") != "application/json" {
			t.Fatalf("not a Slack message: %v %s", err, g.body)
		}
		texts[g.header.Get("Idempotency-Key")] = m.Text
	}
	if len(texts) != 4 {
		t.Fatalf("%d messages, want 4: %v", len(texts), texts)
	}
	all := strings.Join(func() []string {
		var s []string
		for _, v := range texts {
			s = append(s, v)
		}
		return s
	}(), "\n----\n")
	for _, want := range []string{
		"*Remediated*: `huawei-kms-rotation` (`huawei.kms.enable-key-rotation`)",
		"Resource: `key-e1` in 111 / cn-north-4",
		"Changed by: user alice (u-9)",
		"Done: rotation_enabled=false -> rotation_enabled=true",
		"*Awaiting approval*: `alibaba-ecs-default-key`",
		"approve with: `remediator approvals approve ap-42`",
		"*Dead-lettered (not remediated)*",
		"Reason: exhausted (KMS.0001): the key service throttled every attempt",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the messages:\n%s", want, all)
		}
	}
	if txt := texts["audit-appr2"]; !strings.Contains(txt, "Awaits approval") || strings.Contains(txt, "approve with") {
		t.Errorf("awaiting approval without an id: %q", txt)
	}
}

func publishRaw(t *testing.T, js jetstream.JetStream, outcome, body string) {
	t.Helper()
	msg := &nats.Msg{Subject: "remediation.audit." + outcome, Data: []byte(body)}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// TestFilters: a sink gets only its outcomes, rules (globs) and accounts;
// the others are acked, not sent.
func TestFilters(t *testing.T) {
	b := setup(t)
	rcv := newReceiver(t)
	t.Setenv("NOTIFY_F_URL", rcv.URL)
	b.start(t, []SinkConfig{{Name: "f", Type: TypeWebhook, URLEnv: "NOTIFY_F_URL",
		Outcomes: []audit.Outcome{audit.DeadLettered, audit.CircuitOpen}, Rules: []string{"huawei-*"}, Accounts: []string{"111"}}})
	b.record(t, decision("yes1", "huawei-kms-rotation", audit.DeadLettered))
	b.record(t, decision("yes2", "huawei-evs-default", audit.CircuitOpen))
	b.record(t, decision("outcome", "huawei-kms-rotation", audit.Remediated)) // not in the consumer's subjects
	b.record(t, decision("rule", "alibaba-ecs", audit.DeadLettered))
	other := decision("account", "huawei-kms-rotation", audit.DeadLettered)
	other.Finding.Account = "222"
	b.record(t, other)
	b.settled(t, "f")
	var got []string
	for _, d := range rcv.deliveries() {
		var r audit.Record
		_ = json.Unmarshal(d.body, &r)
		got = append(got, r.Event.ID)
	}
	if strings.Join(got, ",") != "yes1,yes2" && strings.Join(got, ",") != "yes2,yes1" {
		t.Errorf("delivered %v, want yes1 and yes2", got)
	}
	if b.count("f", Filtered) != 2 {
		t.Errorf("filtered = %v, want 2 (the rule and the account; the outcome never reaches the sink)", b.count("f", Filtered))
	}
}

// TestRejectedAndRetried: a 4xx refuses a record for good (terminated,
// counted, logged, not resent); 429 and 5xx are retried until they pass.
func TestRejectedAndRetried(t *testing.T) {
	b := setup(t)
	var calls atomic.Int32
	var got sync.Map
	answers := []int{400, 429, 503, 200, 200} // first record 400; second 429, 503, then 200; third 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		st := 200
		if int(n) <= len(answers) {
			st = answers[n-1]
		}
		if st == 200 {
			got.Store(r.Header.Get("Idempotency-Key"), true)
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("NOTIFY_R_URL", srv.URL)
	n, err := New([]SinkConfig{{Name: "r", Type: TypeWebhook, URLEnv: "NOTIFY_R_URL"}},
		Options{Logger: b.log, Metrics: b.m, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.record(t, decision("a", "r1", audit.DeadLettered))
	b.record(t, decision("b", "r1", audit.DeadLettered))
	b.record(t, decision("c", "r1", audit.DeadLettered))
	// The consumer is new: deliver all, so the records above are in.
	n.sinks[0].cfg.Deliver = "all"
	go func() { _ = n.Run(ctx, b.js) }()
	b.settled(t, "r")
	if c := calls.Load(); c != 5 {
		t.Errorf("%d requests, want 5 (one rejected, two retried, three sent)", c)
	}
	count := 0
	got.Range(func(any, any) bool { count++; return true })
	if count != 2 {
		t.Errorf("%d records accepted, want 2", count)
	}
	if b.count("r", Rejected) != 1 || b.count("r", Retried) < 2 || b.count("r", Sent) != 2 {
		t.Errorf("rejected %v retried %v sent %v, want 1, >=2, 2", b.count("r", Rejected), b.count("r", Retried), b.count("r", Sent))
	}
	if !strings.Contains(b.logText(), `"msg":"notification_rejected"`) || !strings.Contains(b.logText(), "sink r answered 400 Bad Request") {
		t.Errorf("the rejection is not logged:\n%s", b.logText())
	}
}

// TestFailingSinkBlocksNoOther: while one sink answers 503 the other gets
// every record; when the first comes back it gets them all too, each once.
func TestFailingSinkBlocksNoOther(t *testing.T) {
	b := setup(t)
	up, down := newReceiver(t), newReceiver(t)
	down.status.Store(503)
	t.Setenv("NOTIFY_UP_URL", up.URL)
	t.Setenv("NOTIFY_DOWN_URL", down.URL)
	b.start(t, []SinkConfig{{Name: "up", Type: TypeWebhook, URLEnv: "NOTIFY_UP_URL"}, {Name: "down", Type: TypeSlack, URLEnv: "NOTIFY_DOWN_URL"}})
	const n = 50
	for i := range n {
		b.record(t, decision("e"+string(rune('A'+i%26))+string(rune('a'+i/26)), "r", audit.Remediated))
	}
	b.settled(t, "up")
	if len(up.deliveries()) != n {
		t.Fatalf("the working sink got %d of %d", len(up.deliveries()), n)
	}
	if len(down.deliveries()) != 0 {
		t.Fatal("the failing sink accepted something")
	}
	waitFor(t, "the failing sink to be reported", func() bool { return strings.Contains(b.logText(), "notify_sink_failing") })
	down.status.Store(200)
	b.settled(t, "down")
	keys := map[string]int{}
	for _, d := range down.deliveries() {
		keys[d.header.Get("Idempotency-Key")]++
	}
	if len(keys) != n || len(down.deliveries()) != n {
		t.Errorf("after it came back the sink got %d deliveries of %d records, want %d of %d", len(down.deliveries()), len(keys), n, n)
	}
	if !strings.Contains(b.logText(), "notify_sink_recovered") {
		t.Error("no recovery logged")
	}
	if strings.Count(b.logText(), "notify_sink_failing") > 3 {
		t.Errorf("the failing sink was logged %d times: want once per outage", strings.Count(b.logText(), "notify_sink_failing"))
	}
}

// TestSecretsNeverLogged: a failing sink's URL and token (and the URL's
// secret path) appear in no log line and no error.
func TestSecretsNeverLogged(t *testing.T) {
	b := setup(t)
	const pathSecret, token = "T0SECRETPATH/B0SECRETHOOK", "tok-NEVER-LOG-ME"
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL + "/services/" + pathSecret
	refused.Close() // connection refused from now on
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }))
	t.Cleanup(unauthorized.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	t.Cleanup(failing.Close)
	t.Setenv("NOTIFY_S1_URL", refusedURL)
	t.Setenv("NOTIFY_S2_URL", unauthorized.URL+"/services/"+pathSecret)
	t.Setenv("NOTIFY_S3_URL", failing.URL+"/services/"+pathSecret)
	t.Setenv("NOTIFY_S_TOKEN", token)
	b.start(t, []SinkConfig{
		{Name: "refused", Type: TypeSlack, URLEnv: "NOTIFY_S1_URL"},
		{Name: "unauthorized", Type: TypeWebhook, URLEnv: "NOTIFY_S2_URL", TokenEnv: "NOTIFY_S_TOKEN"},
		{Name: "failing", Type: TypeWebhook, URLEnv: "NOTIFY_S3_URL", TokenEnv: "NOTIFY_S_TOKEN"},
	})
	b.record(t, decision("e1", "r", audit.DeadLettered))
	b.settled(t, "unauthorized")
	waitFor(t, "both failing sinks logged", func() bool { return strings.Count(b.logText(), "notify_sink_failing") >= 2 })
	logs := b.logText()
	if !strings.Contains(logs, "connection refused") || !strings.Contains(logs, "sink failing answered 500") {
		t.Errorf("the failures are not said:\n%s", logs)
	}
	errs := []string{
		post(context.Background(), http.DefaultClient, "x", refusedURL, http.Header{}, nil).Error(),
		post(context.Background(), http.DefaultClient, "x", "http://bad host/"+pathSecret, http.Header{}, nil).Error(),
	}
	for _, s := range append(errs, logs) {
		for _, secret := range []string{pathSecret, "T0SECRETPATH", token, refusedURL, strings.TrimPrefix(refused.URL, "http://")} {
			if strings.Contains(s, secret) {
				t.Errorf("%q appears in:\n%s", secret, s)
			}
		}
	}
}
