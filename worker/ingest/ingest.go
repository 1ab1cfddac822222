// Package ingest is the HTTP door from the clouds' event buses (Alibaba
// EventBridge, Huawei EventGrid, webhooks) into the intake stream.
//
// It accepts CloudEvents over HTTP in binary, structured and batch modes
// (through the CloudEvents SDK's HTTP protocol), authenticates the sender
// per event source (a bearer token, checked before the body is read, or an
// HMAC-SHA256 signature of a timestamp, the event's context attributes and
// the body: see SigningString), checks the type and source allowlists and a size limit, and
// publishes each event with a Nats-Msg-Id derived from its source and id.
// It answers 2xx only after JetStream acknowledged every event of the
// request, and 5xx otherwise, so the bus retries: nothing it accepted is
// lost, and a retried request creates no duplicate work.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/streams"
)

// Source says how events from matching sources authenticate. Pattern is
// a glob (rules.MatchGlob): an exact source, "acs.*", "*.kms", "HC.?MS".
// Exactly one of Token and HMACSecret is set.
type Source struct {
	Pattern    string
	Token      string
	HMACSecret string
}

// Config configures the receiver.
type Config struct {
	Sources      []Source // events from other sources are rejected
	AllowedTypes []string // globs (rules.MatchGlob); empty allows every type
	MaxBodyBytes int64    // default 1 MiB
	// Intake is where events are published (worker.Config.Streams).
	Intake streams.Config
	// MaxMsgBytes is the intake's limit on one stored message, headers
	// and body (its MaxMsgSize, at most the server's max_payload); an
	// event over it once encoded is refused with 413. 0: not checked.
	MaxMsgBytes int64
	// SignatureWindow is how old (or new) a signature's timestamp may be;
	// default DefaultSignatureWindow.
	SignatureWindow time.Duration
	// MaxUnauthenticated bounds the bodies read at once before their
	// sender is authenticated; default DefaultMaxUnauthenticated.
	MaxUnauthenticated int
	Now                func() time.Time // the clock; default time.Now
	Metrics            *Metrics         // optional
}

// Handler is the HTTP receiver; safe for concurrent use.
type Handler struct {
	cfg   Config
	js    jetstream.JetStream
	gate  *admission
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
	if cfg.SignatureWindow <= 0 {
		cfg.SignatureWindow = DefaultSignatureWindow
	}
	if cfg.MaxUnauthenticated <= 0 {
		cfg.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	return &Handler{cfg: cfg, js: js, gate: newAdmission(cfg.MaxUnauthenticated), stats: map[string]int64{}}, nil
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
	if h.cfg.Metrics != nil {
		h.cfg.Metrics.Rejected.WithLabelValues(r.reason).Inc()
	}
	if r.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
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
	// Authenticate first, from the headers, then read the body: a bearer
	// is proven before any of it is read; a signed body is read in one of
	// a bounded number of slots, then verified.
	cred, rej := h.authenticate(r)
	if rej != nil {
		h.reject(w, *rej)
		return
	}
	release, rej := h.gate.admit(cred)
	if rej != nil {
		h.reject(w, *rej)
		return
	}
	defer release()
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		h.reject(w, bodyRejection(err, h.cfg.MaxBodyBytes))
		return
	}
	msg, rej := signingString(cred, r, body)
	if rej != nil {
		h.reject(w, *rej)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	evs, err := readEvents(r)
	if err != nil {
		h.reject(w, rejection{http.StatusBadRequest, "invalid_event", err.Error()})
		return
	}
	for _, e := range evs {
		if rej := h.check(cred, msg, e); rej != nil {
			h.reject(w, *rej)
			return
		}
	}
	release()
	msgs, rej := h.encode(evs)
	if rej != nil {
		h.reject(w, *rej)
		return
	}
	if err := h.publish(r, msgs); err != nil {
		h.reject(w, publishRejection(err))
		return
	}
	h.count("accepted", int64(len(evs)))
	if h.cfg.Metrics != nil {
		h.cfg.Metrics.Accepted.Add(float64(len(evs)))
	}
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

// check authorises the event for the request's credential (authenticate
// first, then authorise: see authorise) and applies the allowlists.
func (h *Handler) check(c credential, msg []byte, e event.Event) *rejection {
	if rej := h.authorise(c, msg, e); rej != nil {
		return rej
	}
	if rej := checkAttributes(e); rej != nil {
		return rej
	}
	if e.SpecVersion() != events.SpecVersion {
		return &rejection{http.StatusBadRequest, "invalid_event", "only CloudEvents 1.0 are accepted"}
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

// publish sends every encoded event (see encode) and waits for each ack.
func (h *Handler) publish(r *http.Request, msgs []*nats.Msg) error {
	for _, msg := range msgs {
		if _, err := h.js.PublishMsg(r.Context(), msg); err != nil {
			return err
		}
	}
	return nil
}

// match is the rules' glob (rules.MatchGlob), so that --allow-type
// '*:ActionTrail:ApiCall' and the sources' patterns mean what a rule's
// match means.
func match(p, s string) bool {
	return rules.MatchGlob(p, s)
}

func anyMatch(ps []string, s string) bool {
	for _, p := range ps {
		if match(p, s) {
			return true
		}
	}
	return false
}
