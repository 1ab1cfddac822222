package audit

import (
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

// Source is the CloudEvents source of audit events.
const Source = "remediator"

// TypePrefix prefixes the type of audit events: remediator.audit.<outcome>.
const TypePrefix = "remediator.audit."

// Record is the data of an audit CloudEvent (schema in README).
type Record struct {
	Outcome  Outcome `json:"outcome"`
	Reason   string  `json:"reason,omitempty"`
	Code     string  `json:"code,omitempty"`
	Error    string  `json:"error,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	Rule     string  `json:"rule"`
	Action   string  `json:"action"`
	Provider string  `json:"provider"`
	Account  string  `json:"account,omitempty"`
	Region   string  `json:"region,omitempty"`
	Resource string  `json:"resource,omitempty"`
	// Actor is who made the change, from the event's finding (absent when
	// the event had no known form or named nobody).
	Actor      *events.Actor     `json:"actor,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Before     string            `json:"state_before,omitempty"`
	After      string            `json:"state_after,omitempty"`
	Attempts   int               `json:"attempts"`
	DurationMS float64           `json:"duration_ms"`
	Event      RecordEvent       `json:"event"`
	ApprovalID string            `json:"approval_id,omitempty"`
	Approval   *Approval         `json:"approval,omitempty"`
}

// RecordEvent identifies the event an audit record is about.
type RecordEvent struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Type     string `json:"type"`
	Subject  string `json:"nats_subject"`
	Sequence uint64 `json:"stream_sequence"`
}

// StreamConfig says where audit records go.
type StreamConfig struct {
	Subject      string // records go to <Subject>.<outcome>
	IntakeStream string // names the events that have no id
}

// Stream publishes one CloudEvent per final decision about a matched rule
// to the audit stream, and waits for the stream's acknowledgement. The
// Nats-Msg-Id is derived from the event (its stream sequence when it has
// no id), the rule and the outcome, so a retried message does not
// duplicate its record.
type Stream struct {
	js  jetstream.JetStream
	cfg StreamConfig
	now func() time.Time
}

// NewStream returns an audit recorder publishing on js's connection; the
// stream is created with the worker's topology.
func NewStream(js jetstream.JetStream, cfg StreamConfig) *Stream {
	a := &Stream{js: js, cfg: cfg, now: time.Now}
	if js != nil {
		// Its own context on the connection, so that an acknowledgement
		// that never comes fails its publish after publishTimeout
		// instead of holding its place among the pending ones forever.
		if own, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncTimeout(publishTimeout)); err == nil {
			a.js = own
		}
	}
	return a
}

// publishTimeout bounds the wait for a record's acknowledgement, as
// jetstream's default API timeout does for a synchronous publish.
const publishTimeout = 5 * time.Second

// Record implements Recorder: it publishes the record and waits for the
// stream's acknowledgement. Decisions that are not final, and events no
// rule matched, have no audit record.
func (a *Stream) Record(ctx context.Context, d Decision) error {
	p, err := a.Start(ctx, d)
	if err != nil {
		return err
	}
	return p(ctx)
}

// Start implements Starter: it publishes the record and returns without
// waiting for the stream's acknowledgement (jetstream.PublishMsgAsync,
// which retries a no-responders answer as PublishMsg does). The Pending
// waits for it, at most publishTimeout.
func (a *Stream) Start(_ context.Context, d Decision) (Pending, error) {
	if !d.Final || (d.Rule == "" && d.Outcome != Untrusted && d.Outcome != DeadLettered) {
		return done, nil
	}
	body, id, err := a.event(d)
	if err != nil {
		return nil, errors.New("audit record: " + err.Error())
	}
	msg := &nats.Msg{
		Subject: a.cfg.Subject + "." + string(d.Outcome),
		Header:  nats.Header{"Content-Type": {events.StructuredContentType}},
		Data:    body,
	}
	f, err := a.js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
	if err != nil {
		return nil, errors.New("audit publish: " + err.Error())
	}
	return func(ctx context.Context) error {
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return errors.New("audit publish: " + err.Error())
		case <-ctx.Done():
			return errors.New("audit publish: " + ctx.Err().Error())
		}
	}, nil
}

// event renders the decision as a structured CloudEvent.
func (a *Stream) event(d Decision) ([]byte, string, error) {
	id := a.recordID(d)
	provider, _, _ := strings.Cut(d.Action, ".")
	if provider == "" && d.Finding != nil {
		provider = d.Finding.Provider
	}
	data := Record{
		Outcome: d.Outcome, Reason: string(d.Reason), Code: d.Code, Error: d.Error, Detail: d.Detail,
		Rule: d.Rule, Action: d.Action, Provider: provider,
		Account:  orFinding(d.Params["account"], d.Finding, func(f *events.Finding) string { return f.Account }),
		Region:   orFinding(d.Params["region"], d.Finding, func(f *events.Finding) string { return f.Region }),
		Resource: orFinding(d.Resource, d.Finding, func(f *events.Finding) string { return f.ResourceID }),
		Actor:    actor(d.Finding),
		Params:   d.Params,
		Before:   d.Before, After: d.After, Attempts: d.Attempt,
		DurationMS: float64(d.Duration.Microseconds()) / 1000,
		Event:      RecordEvent{ID: d.EventID, Source: d.EventSource, Type: d.EventType, Subject: d.Subject, Sequence: d.Sequence},
		ApprovalID: d.ApprovalID, Approval: d.Approval,
	}
	body, err := json.Marshal(cloudEvent{
		SpecVersion: "1.0", ID: id, Source: Source, Type: TypePrefix + string(d.Outcome),
		Subject: d.Rule, Time: a.now().UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		Data: &data,
	})
	return body, id, err
}

// recordID is the record's id and Nats-Msg-Id: from the event's source
// and id, the rule and the outcome. An event with no id (one that could
// not be decoded) is named by its intake stream and sequence instead, as
// its dead letter is (dlq:<stream>:<seq>): with the empty id every such
// event had the same record id and the audit stream's duplicate window
// kept only the first.
func (a *Stream) recordID(d Decision) string {
	event := d.EventSource + "\x00" + d.EventID
	if d.EventID == "" && d.Sequence != 0 {
		event = "seq\x00" + a.cfg.IntakeStream + "\x00" + strconv.FormatUint(d.Sequence, 10)
	}
	h := sha256.Sum256([]byte(event + "\x00" + d.Rule + "\x00" + string(d.Outcome)))
	return "audit-" + hex.EncodeToString(h[:16])
}

// cloudEvent is the structured CloudEvent an audit record is sent as.
type cloudEvent struct {
	SpecVersion     string  `json:"specversion"`
	ID              string  `json:"id"`
	Source          string  `json:"source"`
	Type            string  `json:"type"`
	Subject         string  `json:"subject,omitempty"`
	Time            string  `json:"time"`
	DataContentType string  `json:"datacontenttype"`
	Data            *Record `json:"data"`
}

// orFinding returns v, or the finding's value when v is empty.
func orFinding(v string, f *events.Finding, get func(*events.Finding) string) string {
	if v != "" || f == nil {
		return v
	}
	return get(f)
}

// actor is the finding's actor, nil when there is none.
func actor(f *events.Finding) *events.Actor {
	if f == nil || f.Actor == (events.Actor{}) {
		return nil
	}
	a := f.Actor
	return &a
}
