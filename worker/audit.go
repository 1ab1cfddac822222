package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
)

// AuditSource is the CloudEvents source of audit events.
const AuditSource = "remediator"

// AuditTypePrefix prefixes the type of audit events: remediator.audit.<outcome>.
const AuditTypePrefix = "remediator.audit."

// AuditData is the data of an audit CloudEvent (schema in README).
type AuditData struct {
	Outcome    Outcome           `json:"outcome"`
	Reason     string            `json:"reason,omitempty"`
	Code       string            `json:"code,omitempty"`
	Error      string            `json:"error,omitempty"`
	Detail     string            `json:"detail,omitempty"`
	Rule       string            `json:"rule"`
	Action     string            `json:"action"`
	Provider   string            `json:"provider"`
	Account    string            `json:"account,omitempty"`
	Region     string            `json:"region,omitempty"`
	Resource   string            `json:"resource,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Before     string            `json:"state_before,omitempty"`
	After      string            `json:"state_after,omitempty"`
	Attempts   int               `json:"attempts"`
	DurationMS float64           `json:"duration_ms"`
	Event      AuditEventRef     `json:"event"`
}

// AuditEventRef identifies the event an audit record is about.
type AuditEventRef struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Type     string `json:"type"`
	Subject  string `json:"nats_subject"`
	Sequence uint64 `json:"stream_sequence"`
}

// Audit publishes one CloudEvent per final decision about a matched rule
// to the audit stream, and waits for the stream's acknowledgement. The
// Nats-Msg-Id is derived from the event (its stream sequence when it has
// no id), the rule and the outcome, so a retried message does not
// duplicate its record.
type Audit struct {
	js  jetstream.JetStream
	cfg Config
	now func() time.Time
}

// NewAudit returns an audit recorder; the stream is created by
// EnsureTopology.
func NewAudit(js jetstream.JetStream, cfg Config) *Audit {
	return &Audit{js: js, cfg: cfg.withDefaults(), now: time.Now}
}

// Record implements Recorder. Decisions that are not final, and events no
// rule matched, have no audit record.
func (a *Audit) Record(ctx context.Context, d Decision) error {
	if !d.Final || (d.Rule == "" && d.Outcome != Untrusted && d.Outcome != DeadLettered) {
		return nil
	}
	body, id := a.event(d)
	msg := &nats.Msg{
		Subject: a.cfg.AuditSubject + "." + string(d.Outcome),
		Header:  nats.Header{"Content-Type": {events.StructuredContentType}, jetstream.MsgIDHeader: {id}},
		Data:    body,
	}
	if err := publishDurable(ctx, a.js.Conn(), msg); err != nil {
		return errors.New("audit publish: " + err.Error())
	}
	return nil
}

// publishTimeout bounds a record's publish when the caller's context has
// no deadline, as jetstream's default API timeout does.
const publishTimeout = 5 * time.Second

// publishDurable publishes msg to its stream and waits for the stream's
// acknowledgement: what jetstream's PublishMsg does (a no-responders
// answer, as during a leader change, is retried twice 250 ms apart; a
// context without a deadline gets publishTimeout), except that a plain
// success acknowledgement is read without encoding/json, which was a tenth
// of recording's CPU in the benchmark. Anything else is decoded in full.
func publishDurable(ctx context.Context, nc *nats.Conn, msg *nats.Msg) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	resp, err := nc.RequestMsgWithContext(ctx, msg)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < 2; r++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		resp, err = nc.RequestMsgWithContext(ctx, msg)
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return jetstream.ErrNoStreamResponse
	case err != nil:
		return err
	}
	return checkPubAck(resp.Data)
}

// checkPubAck returns nil for a stream's acknowledgement of a stored
// message, and the error it reports otherwise.
func checkPubAck(b []byte) error {
	if bytes.HasPrefix(b, []byte(`{"stream":"`)) && bytes.Contains(b, []byte(`"seq":`)) && !bytes.Contains(b, []byte(`"error"`)) {
		return nil // the shape of every success the server sends
	}
	var ack struct {
		Stream string              `json:"stream"`
		Error  *jetstream.APIError `json:"error"`
	}
	switch err := json.Unmarshal(b, &ack); {
	case err != nil:
		return jetstream.ErrInvalidJSAck
	case ack.Error != nil:
		return ack.Error
	case ack.Stream == "":
		return jetstream.ErrInvalidJSAck
	}
	return nil
}

// event renders the decision as a structured CloudEvent.
func (a *Audit) event(d Decision) ([]byte, string) {
	id := a.recordID(d)
	provider, _, _ := strings.Cut(d.Action, ".")
	if provider == "" && d.Finding != nil {
		provider = d.Finding.Provider
	}
	data := AuditData{
		Outcome: d.Outcome, Reason: string(d.Reason), Code: d.Code, Error: d.Error, Detail: d.Detail,
		Rule: d.Rule, Action: d.Action, Provider: provider,
		Account:  orFinding(d.Params["account"], d.Finding, func(f *events.Finding) string { return f.Account }),
		Region:   orFinding(d.Params["region"], d.Finding, func(f *events.Finding) string { return f.Region }),
		Resource: orFinding(d.Resource, d.Finding, func(f *events.Finding) string { return f.ResourceID }),
		Params:   d.Params,
		Before:   d.Before, After: d.After, Attempts: d.Attempt,
		DurationMS: float64(d.Duration.Microseconds()) / 1000,
		Event:      AuditEventRef{ID: d.EventID, Source: d.EventSource, Type: d.EventType, Subject: d.Subject, Sequence: d.Sequence},
	}
	ev := auditEvent{
		SpecVersion: "1.0", ID: id, Source: AuditSource, Type: AuditTypePrefix + string(d.Outcome),
		Subject: d.Rule, Time: a.now().UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		Data: &data,
	}
	return appendAuditEvent(make([]byte, 0, 1024), &ev), id
}

// recordID is the record's id and Nats-Msg-Id: from the event's source
// and id, the rule and the outcome. An event with no id (one that could
// not be decoded) is named by its intake stream and sequence instead, as
// its dead letter is (dlq:<stream>:<seq>): with the empty id every such
// event had the same record id and the audit stream's duplicate window
// kept only the first.
func (a *Audit) recordID(d Decision) string {
	event := d.EventSource + "\x00" + d.EventID
	if d.EventID == "" && d.Sequence != 0 {
		event = "seq\x00" + a.cfg.Stream + "\x00" + strconv.FormatUint(d.Sequence, 10)
	}
	h := sha256.Sum256([]byte(event + "\x00" + d.Rule + "\x00" + string(d.Outcome)))
	return "audit-" + hex.EncodeToString(h[:16])
}

// auditEvent is the structured CloudEvent an audit record is sent as,
// rendered by appendAuditEvent as encoding/json would render these types.
type auditEvent struct {
	SpecVersion     string     `json:"specversion"`
	ID              string     `json:"id"`
	Source          string     `json:"source"`
	Type            string     `json:"type"`
	Subject         string     `json:"subject,omitempty"`
	Time            string     `json:"time"`
	DataContentType string     `json:"datacontenttype"`
	Data            *AuditData `json:"data"`
}

// Tee records each decision with every recorder in turn and stops at the
// first error.
func Tee(recs ...Recorder) Recorder {
	return RecorderFunc(func(ctx context.Context, d Decision) error {
		for _, r := range recs {
			if err := r.Record(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// orFinding returns v, or the finding's value when v is empty.
func orFinding(v string, f *events.Finding, get func(*events.Finding) string) string {
	if v != "" || f == nil {
		return v
	}
	return get(f)
}
