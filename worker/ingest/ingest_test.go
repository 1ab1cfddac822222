package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/streams"
)

const structured = `{"specversion":"1.0","id":"ev-1","source":"acs.ecs","type":"ecs:ActionTrail:ApiCall","data":{"eventName":"ModifyDiskDefaultKMSKeyId"}}`

type fixture struct {
	js  jetstream.JetStream
	url string
	h   *Handler
	cfg streams.Config
}

func setup(t *testing.T) fixture {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	cfg := worker.DefaultConfig().Streams()
	if _, err := streams.EnsureTopology(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	h, err := New(js, Config{
		Sources:      []Source{{Pattern: "acs.*", Token: "eb-token"}, {Pattern: "HC.*", HMACSecret: "eg-secret"}},
		AllowedTypes: []string{"ecs:ActionTrail:*", "KMS:CloudTrace:*", "remediator.finding.*"},
		MaxBodyBytes: 4096, Intake: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return fixture{js: js, url: hs.URL, h: h, cfg: cfg}
}

// sign signs a structured or batch body (no ce-* headers) now.
func sign(body, secret string) string {
	v, err := Sign(secret, time.Now(), http.Header{}, []byte(body))
	if err != nil {
		panic(err)
	}
	return v
}

// legacySign is the old, refused form: the body alone.
func legacySign(body, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (f fixture) post(t *testing.T, header map[string]string, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f fixture) stored(t *testing.T) uint64 {
	t.Helper()
	st, _ := f.js.Stream(context.Background(), f.cfg.Stream)
	info, _ := st.Info(context.Background())
	return info.State.Msgs
}

func TestIngestModes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bearer := "Bearer eb-token"
	cts := `{"specversion":"1.0","id":"ev-3","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall","data":{"trace_name":"x"}}`
	cases := []struct {
		name   string
		header map[string]string
		body   string
		status int
		stored uint64
	}{
		{"structured", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, structured, 202, 1},
		{"same event again", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, structured, 202, 1},
		{"binary", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "ev-2", "Ce-Source": "acs.ecs", "Ce-Type": "ecs:ActionTrail:ApiCall",
			"Content-Type": "application/json", "Authorization": bearer}, `{"eventName":"x"}`, 202, 2},
		{"batch with HMAC", map[string]string{"Content-Type": "application/cloudevents-batch+json", SignatureHeader: sign("["+cts+"]", "eg-secret")}, "[" + cts + "]", 202, 3},
		{"wrong token", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": "Bearer nope"}, strings.Replace(structured, "ev-1", "ev-9", 1), 401, 3},
		{"wrong signature", map[string]string{"Content-Type": "application/cloudevents+json", SignatureHeader: sign(cts, "other")}, cts, 401, 3},
		{"token for an HMAC source", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, cts, 403, 3},
		{"unknown source, valid token", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, strings.Replace(structured, "acs.ecs", "evil", 1), 403, 3},
		{"unknown source, signed", map[string]string{"Content-Type": "application/cloudevents+json", SignatureHeader: sign(strings.Replace(cts, "HC.KMS", "evil", 1), "eg-secret")}, strings.Replace(cts, "HC.KMS", "evil", 1), 401, 3},
		{"legacy body signature", map[string]string{"Content-Type": "application/cloudevents+json", SignatureHeader: legacySign(cts, "eg-secret")}, cts, 401, 3},
		{"no credentials", map[string]string{"Content-Type": "application/cloudevents+json"}, cts, 401, 3},
		{"type not allowed", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, strings.Replace(structured, "ecs:ActionTrail:ApiCall", "ecs:Other", 1), 403, 3},
		{"not an event", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, `{"hello":1}`, 400, 3},
		{"too large", map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": bearer}, strings.Replace(structured, "ModifyDiskDefaultKMSKeyId", strings.Repeat("x", 5000), 1), 413, 3},
	}
	for _, tc := range cases { // in order: the stored counts accumulate
		if got := f.post(t, tc.header, tc.body); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
		if n := f.stored(t); n != tc.stored {
			t.Errorf("%s: %d events stored, want %d", tc.name, n, tc.stored)
		}
	}
	st := f.h.Stats()
	if st["accepted"] != 4 || st["rejected_unauthenticated"] != 1 || st["rejected_signature_invalid"] != 2 || st["rejected_signature_legacy"] != 1 ||
		st["rejected_credentials_missing"] != 1 || st["rejected_too_large"] != 1 || st["rejected_source_not_allowed"] != 2 {
		t.Errorf("stats %v", st)
	}
}

// TestIngestAnswers5xxWhenNotStored: without an intake stream the publish
// is not acknowledged, and the bus is told to retry.
func TestIngestAnswers5xxWhenNotStored(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if err := f.js.DeleteStream(context.Background(), f.cfg.Stream); err != nil {
		t.Fatal(err)
	}
	if got := f.post(t, map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": "Bearer eb-token"}, structured); got != 503 {
		t.Errorf("status %d, want 503", got)
	}
}

func TestStoredEventKeepsIdentity(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.post(t, map[string]string{"Content-Type": "application/cloudevents+json", "Authorization": "Bearer eb-token"}, structured)
	st, _ := f.js.Stream(context.Background(), f.cfg.Stream)
	m, err := st.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) != events.DedupID("acs.ecs", "ev-1") || !bytes.Contains(m.Data, []byte(`"id":"ev-1"`)) {
		t.Errorf("stored %v %s", m.Header, m.Data)
	}
	env, err := events.Decode(context.Background(), m.Header, m.Data)
	if err != nil || env.Event.Type() != "ecs:ActionTrail:ApiCall" {
		t.Errorf("stored event does not decode: %v", err)
	}
}

func TestConfigNeedsOneCredential(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Config{Sources: []Source{{Pattern: "x"}}}); err == nil {
		t.Error("a source without credentials was accepted")
	}
}
