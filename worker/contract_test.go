package worker_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

func TestBinaryAndStructuredEachOneWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(ctsEvent("bin-1", keyOff), events.Binary)
	b.publish(ctsEvent("str-1", keyOff2), events.Structured)
	ds := b.waitFinal(2)
	for _, d := range ds {
		if d.Outcome != audit.Remediated || d.Rule != "huawei-kms-rotation-disabled-cts" {
			t.Errorf("decision %+v, want remediated by the CTS rule", d)
		}
	}
	if n := b.sim.Writes(opEnable); n != 2 {
		t.Errorf("enable-key-rotation writes = %d, want 2", n)
	}
	for _, k := range []string{keyOff, keyOff2} {
		if key, _ := b.sim.Key(project, k); !key.Rotation {
			t.Errorf("key %s rotation still off", k)
		}
	}
	b.assertDrained()
	if dl := b.deadLetters(); len(dl) != 0 {
		t.Errorf("dead letters: %d, want 0", len(dl))
	}
}

func TestRotationAlreadyOnMakesNoWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(ctsEvent("on-1", keyOn), events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.AlreadyCompliant {
		t.Errorf("outcome %s, want already_compliant", ds[0].Outcome)
	}
	if n := b.sim.Writes(""); n != 0 {
		t.Errorf("writes = %d, want 0", n)
	}
	for _, c := range b.sim.Calls() {
		if c.Write {
			t.Errorf("a write call was made: %+v", c)
		}
	}
	b.assertDrained()
}

func TestThrottledTwiceThenSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sim.Inject(cloudsim.Fault{Op: opEnable, Count: 2, Status: 429, Code: "APIGW.0308",
		Message: "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"})
	b.publish(ctsEvent("thr-1", keyOff), events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.Remediated || ds[0].Attempt != 3 {
		t.Errorf("final %+v, want remediated on attempt 3", ds[0])
	}
	retries := 0
	for _, d := range b.mem.Decisions() {
		if d.Outcome == audit.Retrying {
			retries++
			if d.Reason != "throttled" || d.Code != "APIGW.0308" {
				t.Errorf("retry decision %+v, want throttled APIGW.0308", d)
			}
		}
	}
	if retries != 2 {
		t.Errorf("retrying decisions = %d, want 2", retries)
	}
	if n := b.sim.Writes(opEnable); n != 1 {
		t.Errorf("successful writes = %d, want 1", n)
	}
	b.assertDrained()
	if dl := b.deadLetters(); len(dl) != 0 {
		t.Errorf("dead letters: %d, want 0", len(dl))
	}
}

func TestKeyNotFoundIsDeadLetteredUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw := ctsEvent("nf-1", keyNone)
	h, body, err := events.ToBinary(raw.Body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := nats.Header{}
	for k, v := range h {
		hdr[k] = v
	}
	hdr.Set("Nats-Msg-Id", events.DedupID(raw.Source, raw.ID))
	subject := b.cfg.Streams().IntakeSubject(raw.Source)
	b.publishRaw(subject, hdr, body)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.DeadLettered || ds[0].Reason != "not_found" || ds[0].Code != "KMS.0207" {
		t.Fatalf("final %+v, want dead_lettered not_found KMS.0207", ds[0])
	}
	dl := b.deadLetters()
	if len(dl) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(dl))
	}
	m := dl[0]
	if !bytes.Equal(m.Data(), body) {
		t.Errorf("dead-letter body changed:\n%s\nwant\n%s", m.Data(), body)
	}
	for k, v := range h {
		if got := m.Headers()[k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	want := map[string]string{
		streams.HeaderReason: "not_found", streams.HeaderErrorCode: "KMS.0207",
		streams.HeaderRule: "huawei-kms-rotation-disabled-cts", streams.HeaderAction: "huawei.kms.enable_key_rotation",
		streams.HeaderAttempts: "1", streams.HeaderOriginalSubject: subject, streams.HeaderOriginalStream: b.cfg.Stream,
		streams.HeaderOriginalSequence: "1", streams.HeaderOriginalMsgID: events.DedupID(raw.Source, raw.ID),
	}
	for k, v := range want {
		if got := m.Headers().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if m.Subject() != b.cfg.DLQSubject+".not_found" {
		t.Errorf("dead-letter subject %s", m.Subject())
	}
	if n := b.sim.Writes(""); n != 0 {
		t.Errorf("writes = %d, want 0", n)
	}
	b.assertDrained()
}

func TestBadInputIsDeadLetteredAndWorkerGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.MaxEventBytes = 4096 })
	ce := nats.Header{"Content-Type": {events.StructuredContentType}}
	subj := b.cfg.Streams().IntakeSubject("test")
	cases := []struct {
		h      nats.Header
		body   string
		reason string
	}{
		{nil, "this is not json", "invalid_event"},
		{ce, `{"hello":"world"}`, "invalid_event"},
		{ce, `{"specversion":"1.0","source":"s","type":"t"}`, "invalid_event"},
		{ce, `{"specversion":"0.3","id":"x","source":"s","type":"t"}`, "invalid_event"},
		{nats.Header{"ce-specversion": {"1.0"}, "ce-source": {"s"}, "ce-type": {"t"}}, `{}`, "invalid_event"},
		{ce, `{"specversion":"1.0","id":"big","source":"s","type":"t","data":"` + strings.Repeat("x", 8192) + `"}`, "too_large"},
	}
	for _, c := range cases {
		b.publishRaw(subj, c.h, []byte(c.body))
	}
	b.publish(ctsEvent("good-after-bad", keyOff), events.Structured)
	b.waitFinal(len(cases) + 1)
	got := map[string]int{}
	for _, m := range b.deadLetters() {
		got[m.Headers().Get(streams.HeaderReason)]++
	}
	if got["invalid_event"] != 5 || got["too_large"] != 1 || len(got) != 2 {
		t.Errorf("dead-letter reasons = %v, want 5 invalid_event and 1 too_large", got)
	}
	for _, d := range b.mem.Decisions() {
		if d.Outcome == audit.Retrying {
			t.Errorf("bad input was retried: %+v", d)
		}
	}
	if key, _ := b.sim.Key(project, keyOff); !key.Rotation {
		t.Error("the good event after the bad ones was not remediated")
	}
	b.assertDrained()
}

func TestInvalidParamsMakeNoCloudCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(ctsEvent("bad-key", "alias/app-data"), events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.DeadLettered || ds[0].Reason != "invalid_params" {
		t.Fatalf("final %+v, want dead_lettered invalid_params", ds[0])
	}
	if calls := b.sim.Calls(); len(calls) != 0 {
		t.Errorf("cloud calls were made: %+v", calls)
	}
	if dl := b.deadLetters(); len(dl) != 1 || dl[0].Headers().Get(streams.HeaderReason) != "invalid_params" {
		t.Errorf("want one invalid_params dead letter, got %d", len(dl))
	}
	b.assertDrained()
}

func TestRetriesExhaustedAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sim.Inject(cloudsim.Fault{Op: opEnable, Count: 100, Status: 503, Code: "KMS.0001", Message: "service unavailable"})
	b.publish(ctsEvent("ex-1", keyOff), events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.DeadLettered || ds[0].Reason != "exhausted" || ds[0].Attempt != b.cfg.MaxDeliver {
		t.Fatalf("final %+v, want dead_lettered exhausted on attempt %d", ds[0], b.cfg.MaxDeliver)
	}
	dl := b.deadLetters()
	if len(dl) != 1 || dl[0].Headers().Get(streams.HeaderAttempts) != "4" || dl[0].Headers().Get(streams.HeaderErrorCode) != "KMS.0001" {
		t.Fatalf("dead letters %d, want 1 with attempts 4 and code KMS.0001", len(dl))
	}
	first, err1 := time.Parse(time.RFC3339Nano, dl[0].Headers().Get(streams.HeaderFirstFailure))
	last, err2 := time.Parse(time.RFC3339Nano, dl[0].Headers().Get(streams.HeaderFailedAt))
	if err1 != nil || err2 != nil || !first.Before(last) {
		t.Errorf("first failure %v, last %v: the first must come before the last", first, last)
	}
	b.assertDrained()
}

func TestNoMatchIsAcked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := ctsEvent("nm-1", keyOff)
	r.Body = bytes.Replace(r.Body, []byte("disableKeyRotation"), []byte("enableKey"), 1)
	b.publish(r, events.Structured)
	ds := b.waitFinal(1)
	if ds[0].Outcome != audit.NoMatch || len(b.sim.Calls()) != 0 {
		t.Fatalf("final %+v calls %d, want no_match and no calls", ds[0], len(b.sim.Calls()))
	}
	b.assertDrained()
}

func TestReplayTwiceCreatesNoDuplicateWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := ctsEvent("dup-1", keyOff)
	for i := range 2 {
		dup, err := streams.Publish(context.Background(), b.js, b.cfg.Streams(), r, events.Structured)
		if err != nil || dup != (i == 1) {
			t.Fatalf("publish %d: dup=%v err=%v", i, dup, err)
		}
	}
	b.waitFinal(1)
	time.Sleep(200 * time.Millisecond)
	if n := len(b.mem.Final()["dup-1"]); n != 1 {
		t.Errorf("final decisions for the event = %d, want 1", n)
	}
	b.assertDrained()
}
