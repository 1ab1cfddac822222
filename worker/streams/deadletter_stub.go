package streams

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// Headers of a dead letter that is not a plain copy of the original.
const (
	// HeaderBody is BodyStub when the body is a stub describing the
	// original, which was too large to store whole beside the headers.
	HeaderBody = "Remediator-Body"
	// HeaderOriginalReason is the reason the event was dead-lettered, on a
	// stub, whose Remediator-Reason is too_large.
	HeaderOriginalReason = "Remediator-Original-Reason"
	// HeaderOriginalHeaderBlock is the original header block, base64, when
	// a line of it could not be parsed (the parseable ones are copied).
	HeaderOriginalHeaderBlock = "Remediator-Original-Header-Block"
)

// BodyStub is the HeaderBody value of a stub.
const BodyStub = "stub"

// stubHeadBytes is how much of the original body a stub quotes.
const stubHeadBytes = 256

// DeadLetterStub is the body of a dead letter whose original did not fit:
// enough to identify the original (size, digest, first bytes) and to say
// why it is not there.
type DeadLetterStub struct {
	Stub           int    `json:"remediator_stub"` // format version, 1
	Reason         string `json:"reason"`          // too_large
	OriginalReason string `json:"original_reason"` // why the event was dead-lettered
	Size           int    `json:"size"`            // original body, bytes
	HeaderBytes    int    `json:"header_bytes"`    // original headers as stored, about
	SHA256         string `json:"sha256"`          // of the original body, hex
	Head           string `json:"head,omitempty"`  // first bytes of the body, when UTF-8
	HeadBase64     string `json:"head_base64,omitempty"`
	HeadersDropped bool   `json:"headers_dropped,omitempty"` // the original headers did not fit either
}

// isTooLarge reports whether a publish failed for the message's size: the
// client's check against the server's max_payload, or the stream's
// MaxMsgSize.
func isTooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// stubbed is the dead letter whole with its body replaced by a stub and
// reason too_large. keepHeaders keeps the original's headers; without it
// only the worker's are kept, for originals whose headers alone do not
// fit.
func stubbed(whole *nats.Msg, o Original, fail *action.Error, dlqSubject string, keepHeaders bool) *nats.Msg {
	h := nats.Header{}
	for k, vs := range whole.Header {
		if !keepHeaders && (!isRemediatorHeader(k) && k != jetstream.MsgIDHeader || k == HeaderOriginalHeaderBlock) {
			continue
		}
		h[k] = vs
	}
	h[HeaderReason] = []string{string(audit.ReasonTooLarge)}
	h[HeaderOriginalReason] = []string{string(fail.Reason)}
	h[HeaderBody] = []string{BodyStub}
	sum := sha256.Sum256(o.Data)
	s := DeadLetterStub{Stub: 1, Reason: string(audit.ReasonTooLarge), OriginalReason: string(fail.Reason),
		Size: len(o.Data), HeaderBytes: headerBytes(o.Header), SHA256: hex.EncodeToString(sum[:]), HeadersDropped: !keepHeaders}
	head := o.Data[:min(len(o.Data), stubHeadBytes)]
	for n := 0; n < utf8.UTFMax && len(head) > 0 && !utf8.Valid(head); n++ {
		head = head[:len(head)-1] // a rune cut at the end
	}
	if utf8.Valid(head) {
		s.Head = string(head)
	} else {
		s.HeadBase64 = base64.StdEncoding.EncodeToString(o.Data[:min(len(o.Data), stubHeadBytes)])
	}
	body, _ := json.Marshal(s) // plain fields: cannot fail
	return &nats.Msg{Subject: dlqSubject + "." + string(audit.ReasonTooLarge), Header: h, Data: body}
}

// isRemediatorHeader reports whether a header is one of the worker's own
// names (Remediator-*, in any case).
func isRemediatorHeader(k string) bool {
	const prefix = "Remediator-"
	return len(k) >= len(prefix) && strings.EqualFold(k[:len(prefix)], prefix)
}

// isServerHeader reports whether a header is one the server interprets
// (Nats-*: expected sequence, TTL, message id...), which must not act on
// a copy of the message published elsewhere.
func isServerHeader(k string) bool { return strings.HasPrefix(k, "Nats-") }

// headerBytes is about the size of h as a header block.
func headerBytes(h nats.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// stubDetail notes on a decision that its dead letter is a stub.
func stubDetail(detail string) string {
	const note = "dead letter stored as a stub: the original was too large to store whole"
	if detail == "" {
		return note
	}
	return detail + "; " + note
}
