package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/action"
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

// deadLetter publishes the original message to the dead-letter stream and
// waits for the stream's acknowledgement. Nats-Msg-Id is derived from the
// original stream and sequence, so publishing twice stores it once.
func (w *Worker) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, d Decision, fail *action.Error) error {
	return w.publishDeadLetter(ctx, original{subject: m.Subject(), header: m.Headers(), data: m.Data(),
		stream: meta.Stream, seq: meta.Sequence.Stream}, d, fail)
}

// original is the message being dead-lettered, as it arrived.
type original struct {
	subject string
	header  nats.Header
	data    []byte
	stream  string
	seq     uint64
}

func (w *Worker) publishDeadLetter(ctx context.Context, o original, d Decision, fail *action.Error) error {
	h := nats.Header{}
	for k, vs := range o.header {
		if k == jetstream.MsgIDHeader {
			h[HeaderOriginalMsgID] = append([]string(nil), vs...)
			continue
		}
		if strings.HasPrefix(k, "Nats-") {
			continue // server-interpreted headers (expected sequence, TTL...) must not act on the DLQ
		}
		h[k] = append([]string(nil), vs...)
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
	now := time.Now().UTC()
	set(HeaderFailedAt, now.Format(time.RFC3339Nano))
	set(HeaderFirstFailure, w.firstFailure(ctx, o.stream, o.seq, now).Format(time.RFC3339Nano))
	h[jetstream.MsgIDHeader] = []string{fmt.Sprintf("dlq:%s:%d", o.stream, o.seq)}
	msg := &nats.Msg{
		Subject: w.cfg.DLQSubject + "." + string(fail.Reason),
		Header:  h,
		Data:    o.data,
	}
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead-letter publish: %w", err)
	}
	return nil
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
