// Package ingest is the HTTP door from the clouds' event buses (Alibaba
// EventBridge, Huawei EventGrid, webhooks) into the intake stream.
//
// It accepts CloudEvents over HTTP in binary, structured and batch modes
// (through the CloudEvents SDK's HTTP protocol), authenticates the sender
// per event source (a bearer token or an HMAC-SHA256 signature of the
// body), checks the type and source allowlists and a size limit, and
// publishes each event with a Nats-Msg-Id derived from its source and id.
// It answers 2xx only after JetStream acknowledged every event of the
// request, and 5xx otherwise, so the bus retries: nothing it accepted is
// lost, and a retried request creates no duplicate work.
package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Remediator-Signature"

// Source says how events from matching sources authenticate. Pattern is
// an exact source or a prefix ending in *. Exactly one of Token and
// HMACSecret is set.
type Source struct {
	Pattern    string
	Token      string
	HMACSecret string
}

// Config configures the receiver.
type Config struct {
	Sources      []Source // events from other sources are rejected
	AllowedTypes []string // exact or prefix*; empty allows every type
	MaxBodyBytes int64    // default 1 MiB
	Intake       worker.Config
}

// Handler is the HTTP receiver; safe for concurrent use.
type Handler struct {
	cfg   Config
	js    jetstream.JetStream
	mu    sync.Mutex
	stats map[string]int64
}

// New returns the receiver.
func New(js jetstream.JetStream, cfg Config) (*Handler, error) {
	for _, s := range cfg.Sources {
		if (s.Token == "") == (s.HMACSecret == "") {
			return nil, fmt.Errorf("source %q: give a token or an HMAC secret", s.Pattern)
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	return &Handler{cfg: cfg, js: js, stats: map[string]int64{}}, nil
}

// Stats returns the counts of accepted events and of rejections by reason.
func (h *Handler) Stats() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int64, len(h.stats))
	for k, v := range h.stats {
		out[k] = v
	}
	return out
}

func (h *Handler) count(k string, n int64) {
	h.mu.Lock()
	h.stats[k] += n
	h.mu.Unlock()
}

// rejection is a refused request: its status and a reason.
type rejection struct {
	status int
	reason string
	msg    string
}

func (h *Handler) reject(w http.ResponseWriter, r rejection) {
	h.count("rejected_"+r.reason, 1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": r.reason, "error": r.msg})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.reject(w, rejection{http.StatusMethodNotAllowed, "method", "POST CloudEvents here"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.reject(w, rejection{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", h.cfg.MaxBodyBytes)})
			return
		}
		h.reject(w, rejection{http.StatusBadRequest, "unreadable", "the body could not be read"})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	evs, err := readEvents(r)
	if err != nil {
		h.reject(w, rejection{http.StatusBadRequest, "invalid_event", err.Error()})
		return
	}
	for _, e := range evs {
		if rej := h.check(r, body, e); rej != nil {
			h.reject(w, *rej)
			return
		}
	}
	if err := h.publish(r, evs); err != nil {
		h.reject(w, rejection{http.StatusServiceUnavailable, "unavailable", "the intake stream did not acknowledge: retry"})
		return
	}
	h.count("accepted", int64(len(evs)))
	w.WriteHeader(http.StatusAccepted)
}

// readEvents reads one event (binary or structured) or a batch.
func readEvents(r *http.Request) ([]event.Event, error) {
	if cehttp.IsHTTPBatch(r.Header) {
		evs, err := cehttp.NewEventsFromHTTPRequest(r)
		if err != nil {
			return nil, fmt.Errorf("not a CloudEvents batch: %v", err)
		}
		if len(evs) == 0 {
			return nil, errors.New("an empty batch")
		}
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				return nil, fmt.Errorf("batch item %d: %v", i, err)
			}
		}
		return evs, nil
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		return nil, fmt.Errorf("not a CloudEvent: %v", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return []event.Event{*e}, nil
}

// check authenticates the request for the event's source and applies the
// allowlists.
func (h *Handler) check(r *http.Request, body []byte, e event.Event) *rejection {
	if e.SpecVersion() != events.SpecVersion {
		return &rejection{http.StatusBadRequest, "invalid_event", "only CloudEvents 1.0 are accepted"}
	}
	src, ok := h.source(e.Source())
	if !ok {
		return &rejection{http.StatusForbidden, "source_not_allowed", "source " + e.Source() + " is not allowed"}
	}
	if !authentic(r, body, src) {
		return &rejection{http.StatusUnauthorized, "unauthenticated", "missing or wrong credentials for source " + e.Source()}
	}
	if len(h.cfg.AllowedTypes) > 0 && !anyMatch(h.cfg.AllowedTypes, e.Type()) {
		return &rejection{http.StatusForbidden, "type_not_allowed", "type " + e.Type() + " is not allowed"}
	}
	return nil
}

func (h *Handler) source(s string) (Source, bool) {
	for _, src := range h.cfg.Sources {
		if match(src.Pattern, s) {
			return src, true
		}
	}
	return Source{}, false
}

func authentic(r *http.Request, body []byte, src Source) bool {
	if src.Token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(got), []byte(src.Token)) == 1
	}
	got, ok := strings.CutPrefix(r.Header.Get(SignatureHeader), "sha256=")
	if !ok {
		return false
	}
	mac := hmac.New(sha256.New, []byte(src.HMACSecret))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(strings.ToLower(got)), []byte(want))
}

// publish sends every event, structured, and waits for each ack.
func (h *Handler) publish(r *http.Request, evs []event.Event) error {
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: h.cfg.Intake.IntakeSubject(e.Source()), Data: b,
			Header: nats.Header{"Content-Type": {events.StructuredContentType}, jetstream.MsgIDHeader: {events.DedupID(e.Source(), e.ID())}}}
		if _, err := h.js.PublishMsg(r.Context(), msg); err != nil {
			return err
		}
	}
	return nil
}

func match(p, s string) bool {
	if prefix, ok := strings.CutSuffix(p, "*"); ok {
		return strings.HasPrefix(s, prefix)
	}
	return p == s
}

func anyMatch(ps []string, s string) bool {
	for _, p := range ps {
		if match(p, s) {
			return true
		}
	}
	return false
}
