package worker

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

// deadLetter is the one way a message becomes a dead letter, for a
// delivery (kill) and for a message moved off the intake (moveExhausted):
// it publishes o to the dead-letter stream, whole or as a stub, and waits
// for the stream's acknowledgement; then it records the decisions done
// before the failure and d, the dead_lettered decision, completed from
// fail (and noted when the dead letter is a stub). Nats-Msg-Id is derived
// from the original stream and sequence, so doing it twice stores it once.
// It returns d as recorded. On an error the caller must not settle the
// original: it is retried (Nak) and dead-lettered again.
func (w *Worker) deadLetter(ctx context.Context, o original, d audit.Decision, fail *action.Error, done []audit.Decision) (audit.Decision, error) {
	d.Outcome, d.Reason, d.Code, d.Error, d.Final = audit.DeadLettered, fail.Reason, fail.Code, fail.Error(), true
	stub, err := w.publishDeadLetter(ctx, o, d, fail)
	if err != nil {
		return d, err
	}
	if stub {
		d.Detail = stubDetail(d.Detail)
	}
	for _, r := range slices.Concat(done, []audit.Decision{d}) {
		r.Final = true
		if err := w.rec.Record(ctx, r); err != nil {
			return d, fmt.Errorf("record: %w", err)
		}
	}
	return d, nil
}

// delivered is a delivered message as it arrived. A message delivered
// without headers may have had a block nats.go refused whole: its headers
// are read back from the stream.
func (w *Worker) delivered(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata) original {
	o := original{subject: m.Subject(), header: m.Headers(), data: m.Data(), stream: meta.Stream, seq: meta.Sequence.Stream}
	if len(o.header) == 0 {
		o.header, o.headerBlock = w.recoverHeaders(ctx, o.stream, o.seq)
	}
	return o
}

// original is the message being dead-lettered, as it arrived.
type original struct {
	subject string
	header  nats.Header
	data    []byte
	stream  string
	seq     uint64
	// headerBlock is the raw header block when a line of it could not be
	// parsed; header then holds the lines that could.
	headerBlock []byte
}

// publishDeadLetter stores the dead letter whole or, when it is too large
// for the server's max_payload or the stream's MaxMsgSize, as a stub
// (stubbed): a message that can never be stored whole must still settle,
// or it is redelivered forever and holds the consumer's ack floor.
func (w *Worker) publishDeadLetter(ctx context.Context, o original, d audit.Decision, fail *action.Error) (stub bool, err error) {
	msg := w.deadLetterMsg(ctx, o, d, fail)
	if _, err = w.js.PublishMsg(ctx, msg); err == nil {
		return false, nil
	}
	if !isTooLarge(err) {
		return false, fmt.Errorf("dead-letter publish: %w", err)
	}
	whole := err
	for _, keepHeaders := range []bool{true, false} {
		if _, err = w.js.PublishMsg(ctx, stubbed(msg, o, fail, w.cfg.DLQSubject, keepHeaders)); err == nil {
			w.log.Warn("dead_letter_stubbed", zap.String("event_id", d.EventID), zap.Uint64("stream_seq", o.seq),
				zap.Int("size", len(o.data)), zap.Bool("headers_kept", keepHeaders), zap.String("reason", string(fail.Reason)),
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
func (w *Worker) deadLetterMsg(ctx context.Context, o original, d audit.Decision, fail *action.Error) *nats.Msg {
	h := nats.Header{}
	for k, vs := range o.header {
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
	set(HeaderOriginalSubject, o.subject)
	set(HeaderOriginalStream, o.stream)
	set(HeaderOriginalSequence, strconv.FormatUint(o.seq, 10))
	if o.headerBlock != nil {
		set(HeaderOriginalHeaderBlock, base64.StdEncoding.EncodeToString(o.headerBlock))
	}
	now := time.Now().UTC()
	set(HeaderFailedAt, now.Format(time.RFC3339Nano))
	set(HeaderFirstFailure, w.ledger.FirstFailure(ctx, o.stream, o.seq, now).Format(time.RFC3339Nano))
	h[jetstream.MsgIDHeader] = []string{fmt.Sprintf("dlq:%s:%d", o.stream, o.seq)}
	return &nats.Msg{Subject: w.cfg.DLQSubject + "." + string(fail.Reason), Header: h, Data: o.data}
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
