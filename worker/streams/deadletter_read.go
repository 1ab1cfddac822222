package streams

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/action"
)

// DeadLetter is one message of the dead-letter stream, its Remediator-*
// headers parsed. A header that is missing or cannot be parsed leaves its
// field zero.
type DeadLetter struct {
	Sequence uint64    // in the dead-letter stream
	Subject  string    // the dead-letter subject, <DLQSubject>.<reason>
	Stored   time.Time // when the dead-letter stream stored it

	Reason   action.Reason // Remediator-Reason (too_large on a stub)
	Code     string        // Remediator-Error-Code: the provider's error code
	Error    string        // Remediator-Error
	Rule     string        // Remediator-Rule
	Action   string        // Remediator-Action
	Attempts int           // Remediator-Attempts
	// EventID is the CloudEvent id: the ce-id header (binary mode), else
	// the body's id (structured mode); "" when neither.
	EventID string

	OriginalSubject  string // Remediator-Original-Subject: where redrive publishes it
	OriginalStream   string // Remediator-Original-Stream
	OriginalSequence uint64 // Remediator-Original-Sequence
	FailedAt         time.Time
	FirstFailure     time.Time

	// Stub: the body is a DeadLetterStub describing an original too large
	// to store whole; OriginalReason is then why it was dead-lettered.
	Stub           bool
	OriginalReason action.Reason

	Header nats.Header // every header as stored, the original ones included
	Data   []byte      // the original body, or the stub
}

// ParseDeadLetter reads a message stored in the dead-letter stream.
func ParseDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		Sequence: m.Sequence, Subject: m.Subject, Stored: m.Time, Header: h, Data: m.Data,
		Reason: action.Reason(h.Get(HeaderReason)), Code: h.Get(HeaderErrorCode), Error: h.Get(HeaderError),
		Rule: h.Get(HeaderRule), Action: h.Get(HeaderAction),
		EventID:         eventID(h, m.Data),
		OriginalSubject: h.Get(HeaderOriginalSubject), OriginalStream: h.Get(HeaderOriginalStream),
		Stub: h.Get(HeaderBody) == BodyStub, OriginalReason: action.Reason(h.Get(HeaderOriginalReason)),
	}
	d.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	d.OriginalSequence, _ = strconv.ParseUint(h.Get(HeaderOriginalSequence), 10, 64)
	d.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	d.FirstFailure, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFirstFailure))
	return d
}

// eventID is the CloudEvent id of a dead letter: the ce-id header in
// binary mode, the body's id in structured mode, "" when neither.
func eventID(h nats.Header, body []byte) string {
	if id := h.Get("ce-id"); id != "" {
		return id
	}
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &ev) == nil {
		return ev.ID
	}
	return ""
}

// DeadLetterFilter selects dead letters; the zero value selects them all.
type DeadLetterFilter struct {
	Reason action.Reason // only this Remediator-Reason ("" any)
	Since  time.Time     // only those stored at or after Since
}

func (f DeadLetterFilter) match(d DeadLetter) bool {
	return (f.Reason == "" || d.Reason == f.Reason) && !d.Stored.Before(f.Since)
}

// ListDeadLetters reads cfg's dead-letter stream, oldest first, and returns
// the dead letters f selects.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, cfg Config, f DeadLetterFilter) ([]DeadLetter, error) {
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d := ParseDeadLetter(m); f.match(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ShowDeadLetter reads the dead letter at sequence seq of cfg's
// dead-letter stream.
func ShowDeadLetter(ctx context.Context, js jetstream.JetStream, cfg Config, seq uint64) (DeadLetter, error) {
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return DeadLetter{}, err
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetter{}, err
	}
	return ParseDeadLetter(m), nil
}
