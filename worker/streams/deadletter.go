package streams

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// Headers the worker adds to a dead-lettered message. The original
// headers and body are kept unchanged beside them.
const (
	HeaderReason           = "Remediator-Reason"
	HeaderErrorCode        = "Remediator-Error-Code"
	HeaderError            = "Remediator-Error"
	HeaderRule             = "Remediator-Rule"
	HeaderAction           = "Remediator-Action"
	HeaderAttempts         = "Remediator-Attempts"
	HeaderOriginalSubject  = "Remediator-Original-Subject"
	HeaderOriginalStream   = "Remediator-Original-Stream"
	HeaderOriginalSequence = "Remediator-Original-Sequence"
	HeaderOriginalMsgID    = "Remediator-Original-Msg-Id"
	HeaderFailedAt         = "Remediator-Failed-At"     // the last failure
	HeaderFirstFailure     = "Remediator-First-Failure" // the first failed attempt
)

// maxHeaderError bounds the error text carried in a header.
const maxHeaderError = 1024

// DeadLetterer makes dead letters: it publishes them to the dead-letter
// stream and records them. It is the one place a message becomes a dead
// letter, for a delivery the worker gives up on (DeadLetter) and for a
// message the server announces as exhausted (MoveExhausted).
type DeadLetterer struct {
	js           jetstream.JetStream
	cfg          Config
	rec          audit.Recorder
	log          *zap.Logger
	firstFailure func(ctx context.Context, stream string, seq uint64) time.Time
}

// DeadLetterDeps are what a DeadLetterer works with.
type DeadLetterDeps struct {
	JetStream jetstream.JetStream
	Recorder  audit.Recorder // nil: nothing is recorded
	Logger    *zap.Logger    // nil: no logging
	// FirstFailure says when the message at seq of stream first failed,
	// for the Remediator-First-Failure header; the zero time (or a nil
	// func): not known, the failure now is the first.
	FirstFailure func(ctx context.Context, stream string, seq uint64) time.Time
}

// NewDeadLetterer returns the DeadLetterer of cfg's dead-letter stream.
func NewDeadLetterer(cfg Config, d DeadLetterDeps) *DeadLetterer {
	x := &DeadLetterer{js: d.JetStream, cfg: cfg, rec: d.Recorder, log: d.Logger, firstFailure: d.FirstFailure}
	if x.rec == nil {
		x.rec = audit.RecorderFunc(func(context.Context, audit.Decision) error { return nil })
	}
	if x.log == nil {
		x.log = zap.NewNop()
	}
	if x.firstFailure == nil {
		x.firstFailure = func(context.Context, string, uint64) time.Time { return time.Time{} }
	}
	return x
}

// Original is a message to dead-letter, as it was delivered.
type Original struct {
	Subject string
	Header  nats.Header
	Data    []byte
	Stream  string // the stream it is stored in
	Seq     uint64 // its sequence there
	// headerBlock is the raw header block when a line of it could not be
	// parsed; Header then holds the lines that could.
	headerBlock []byte
}

// DeadLetter dead-letters a delivered message o: it publishes o to the
// dead-letter stream, whole or as a stub, and waits for the stream's
// acknowledgement; then it records the decisions done before the failure
// and d, the dead_lettered decision, completed from fail (and noted when
// the dead letter is a stub). Nats-Msg-Id is derived from the original
// stream and sequence, so doing it twice stores it once. A message
// delivered without headers may have had a block nats.go refused whole:
// its headers are read back from the stream. It returns d as recorded.
// On an error the caller must not settle the original: it is retried
// (Nak) and dead-lettered again.
func (x *DeadLetterer) DeadLetter(ctx context.Context, o Original, d audit.Decision, fail *action.Error, done []audit.Decision) (audit.Decision, error) {
	if len(o.Header) == 0 {
		o.Header, o.headerBlock = x.recoverHeaders(ctx, o.Stream, o.Seq)
	}
	return x.deadLetter(ctx, o, d, fail, done)
}

// deadLetter is the one way a message becomes a dead letter (DeadLetter,
// MoveExhausted).
func (x *DeadLetterer) deadLetter(ctx context.Context, o Original, d audit.Decision, fail *action.Error, done []audit.Decision) (audit.Decision, error) {
	d.Outcome, d.Reason, d.Code, d.Error, d.Final = audit.DeadLettered, fail.Reason, fail.Code, fail.Error(), true
	stub, err := x.publishDeadLetter(ctx, o, d, fail)
	if err != nil {
		return d, err
	}
	if stub {
		d.Detail = stubDetail(d.Detail)
	}
	for _, r := range slices.Concat(done, []audit.Decision{d}) {
		r.Final = true
		if err := x.rec.Record(ctx, r); err != nil {
			return d, fmt.Errorf("record: %w", err)
		}
	}
	return d, nil
}

// publishDeadLetter stores the dead letter whole or, when it is too large
// for the server's max_payload or the stream's MaxMsgSize, as a stub
// (stubbed): a message that can never be stored whole must still settle,
// or it is redelivered forever and holds the consumer's ack floor.
func (x *DeadLetterer) publishDeadLetter(ctx context.Context, o Original, d audit.Decision, fail *action.Error) (stub bool, err error) {
	msg := x.deadLetterMsg(ctx, o, d, fail)
	if _, err = x.js.PublishMsg(ctx, msg); err == nil {
		return false, nil
	}
	if !isTooLarge(err) {
		return false, fmt.Errorf("dead-letter publish: %w", err)
	}
	whole := err
	for _, keepHeaders := range []bool{true, false} {
		if _, err = x.js.PublishMsg(ctx, stubbed(msg, o, fail, x.cfg.DLQSubject, keepHeaders)); err == nil {
			x.log.Warn("dead_letter_stubbed", zap.String("event_id", d.EventID), zap.Uint64("stream_seq", o.Seq),
				zap.Int("size", len(o.Data)), zap.Bool("headers_kept", keepHeaders), zap.String("reason", string(fail.Reason)),
				zap.NamedError("whole_error", whole))
			return true, nil
		}
		if !isTooLarge(err) {
			break
		}
	}
	return false, fmt.Errorf("dead-letter publish: %w (as a stub: %w)", whole, err)
}

// deadLetterMsg is the dead letter whole: the original body and headers
// with the worker's Remediator-* headers.
func (x *DeadLetterer) deadLetterMsg(ctx context.Context, o Original, d audit.Decision, fail *action.Error) *nats.Msg {
	h := nats.Header{}
	for k, vs := range o.Header {
		switch {
		case k == jetstream.MsgIDHeader:
			h[HeaderOriginalMsgID] = append([]string(nil), vs...)
		case isServerHeader(k):
			// server-interpreted headers (expected sequence, TTL...) must not act on the DLQ
		case isRemediatorHeader(k):
			// a publisher's own would pass for the worker's where it sets none (dlq list)
		default:
			h[k] = append([]string(nil), vs...)
		}
	}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	set(HeaderReason, string(fail.Reason))
	set(HeaderErrorCode, fail.Code)
	set(HeaderError, headerSafe(fail.Error()))
	set(HeaderRule, d.Rule)
	set(HeaderAction, d.Action)
	set(HeaderAttempts, strconv.Itoa(d.Attempt))
	set(HeaderOriginalSubject, o.Subject)
	set(HeaderOriginalStream, o.Stream)
	set(HeaderOriginalSequence, strconv.FormatUint(o.Seq, 10))
	if o.headerBlock != nil {
		set(HeaderOriginalHeaderBlock, base64.StdEncoding.EncodeToString(o.headerBlock))
	}
	now := time.Now().UTC()
	set(HeaderFailedAt, now.Format(time.RFC3339Nano))
	first := x.firstFailure(ctx, o.Stream, o.Seq)
	if first.IsZero() {
		first = now
	}
	set(HeaderFirstFailure, first.Format(time.RFC3339Nano))
	h[jetstream.MsgIDHeader] = []string{fmt.Sprintf("dlq:%s:%d", o.Stream, o.Seq)}
	return &nats.Msg{Subject: x.cfg.DLQSubject + "." + string(fail.Reason), Header: h, Data: o.Data}
}

// headerSafe makes text fit in one header value.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxHeaderError {
		s = s[:maxHeaderError]
	}
	return s
}
