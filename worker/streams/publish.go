package streams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
)

// IntakeSubject is the subject an event from source is published on:
// the intake prefix plus the source made into one bounded subject token
// (SubjectToken), whatever the source.
func (c Config) IntakeSubject(source string) string {
	prefix := strings.TrimSuffix(strings.TrimSuffix(c.Subject, ">"), ".")
	return prefix + "." + SubjectToken(source)
}

// MaxSubjectToken is the longest token SubjectToken returns.
const MaxSubjectToken = 64

// tokenHashLen is how many hex digits of the SHA-256 of the input end a
// token that had to be cut.
const tokenHashLen = 16

// SubjectToken makes s one safe NATS subject token for ANY input: only
// [A-Za-z0-9_-] (every other byte becomes _), never empty, and at most
// MaxSubjectToken bytes. A longer s is cut and ends in "-" and 16 hex
// digits of its SHA-256, so distinct long inputs stay apart. Subjects
// built from event data must go through it: the server closes a client's
// connection on a control line over 4 KiB, and nats.go does not reopen it.
func SubjectToken(s string) string {
	n := min(len(s), MaxSubjectToken)
	if len(s) > MaxSubjectToken {
		n = MaxSubjectToken - 1 - tokenHashLen
	}
	b := []byte(s[:n])
	for i, c := range b {
		ok := c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			b[i] = '_'
		}
	}
	if len(s) > MaxSubjectToken {
		sum := sha256.Sum256([]byte(s))
		b = append(append(b, '-'), hex.EncodeToString(sum[:])[:tokenHashLen]...)
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// Publish sends one fixture event to the intake stream, in structured or
// binary mode, with Nats-Msg-Id derived from its source and id, and waits
// for the stream's acknowledgement. dup is true when the stream had
// already stored the same event.
func Publish(ctx context.Context, js jetstream.JetStream, cfg Config, r events.Raw, mode events.Mode) (dup bool, err error) {
	msg := &nats.Msg{Subject: cfg.IntakeSubject(r.Source), Header: nats.Header{}}
	switch mode {
	case events.Binary:
		h, body, err := events.ToBinary(r.Body)
		if err != nil {
			return false, err
		}
		for k, v := range h {
			msg.Header[k] = v
		}
		msg.Data = body
	case events.Structured, "":
		msg.Header.Set("Content-Type", events.StructuredContentType)
		msg.Data = r.Body
	default:
		return false, errors.New("unknown mode " + string(mode))
	}
	msg.Header.Set(jetstream.MsgIDHeader, events.DedupID(r.Source, r.ID))
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return false, err
	}
	return ack.Duplicate, nil
}
