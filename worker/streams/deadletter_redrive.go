package streams

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RedriveSkip says why RedriveDeadLetters leaves a dead letter where it is.
type RedriveSkip string

// The dead letters RedriveDeadLetters does not republish.
const (
	RedriveNoSubject RedriveSkip = "no " + HeaderOriginalSubject + " header"
	// RedriveNotIntake: only a subject the worker itself would build is
	// used. A dead letter is data, and a long or odd subject can get the
	// connection closed by the server.
	RedriveNotIntake RedriveSkip = HeaderOriginalSubject + " is not an intake subject"
	RedriveStub      RedriveSkip = "its body is a stub, the original was too large to store"
)

// Redriven is what RedriveDeadLetters did with one dead letter.
type Redriven struct {
	Sequence uint64      // in the dead-letter stream
	Subject  string      // the intake subject it was (in a dry run: would be) published to
	Skipped  RedriveSkip // why it stays in the dead-letter stream; "" if it does not
}

// RedriveDeadLetters republishes the dead letters f selects to their
// original intake subject, with their original headers (redriveHeader),
// and deletes each from the dead-letter stream only once the intake
// stream acknowledged it. It skips (and reports) a dead letter with no
// original subject, one whose subject is not an intake subject and a
// stub. With dry, it publishes and deletes nothing and reports what it
// would do. On an error it stops: what it returns was done, and the dead
// letter it failed on is in the dead-letter stream (if the publish
// failed) or in both (if the delete failed; the intake's duplicate
// window then drops a second redrive of it).
func RedriveDeadLetters(ctx context.Context, js jetstream.JetStream, cfg Config, f DeadLetterFilter, dry bool) ([]Redriven, error) {
	dls, err := ListDeadLetters(ctx, js, cfg, f)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return nil, err
	}
	var out []Redriven
	for _, d := range dls {
		r := Redriven{Sequence: d.Sequence, Subject: d.OriginalSubject, Skipped: redriveSkip(cfg, d)}
		if r.Skipped != "" || dry {
			out = append(out, r)
			continue
		}
		msg := &nats.Msg{Subject: d.OriginalSubject, Header: redriveHeader(cfg, d), Data: d.Data}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return out, fmt.Errorf("redrive %d: %w (it stays in the DLQ)", d.Sequence, err)
		}
		if err := st.DeleteMsg(ctx, d.Sequence); err != nil {
			return out, fmt.Errorf("redriven %d but not deleted from the DLQ: %w", d.Sequence, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// redriveSkip is why d is not to be redriven, "" if it is.
func redriveSkip(cfg Config, d DeadLetter) RedriveSkip {
	switch {
	case d.OriginalSubject == "":
		return RedriveNoSubject
	case !intakeSubject(cfg, d.OriginalSubject):
		return RedriveNotIntake
	case d.Stub:
		return RedriveStub
	}
	return ""
}

// redriveHeader is the header d is redriven with: the original headers,
// without the worker's Remediator-* ones and the server-interpreted Nats-*
// ones (the dead letter's own Nats-Msg-Id among them), and a Nats-Msg-Id
// of its own, so that redriving it twice publishes it once.
func redriveHeader(cfg Config, d DeadLetter) nats.Header {
	h := nats.Header{}
	for k, v := range d.Header {
		if !isRemediatorHeader(k) && !isServerHeader(k) {
			h[k] = v
		}
	}
	h.Set(jetstream.MsgIDHeader, fmt.Sprintf("redrive:%s:%d", cfg.DLQStream, d.Sequence))
	return h
}

// intakeSubject reports whether subject is one the intake's subjects
// cover, with one bounded, safe token after the prefix, as
// Config.IntakeSubject builds them.
func intakeSubject(cfg Config, subject string) bool {
	prefix := strings.TrimSuffix(strings.TrimSuffix(cfg.Subject, ">"), ".") + "."
	tok, ok := strings.CutPrefix(subject, prefix)
	return ok && tok != "" && tok == SubjectToken(tok)
}

// PurgeDeadLetters deletes the dead letters f selects (with the zero
// filter, it purges the stream) and returns how many it deleted.
func PurgeDeadLetters(ctx context.Context, js jetstream.JetStream, cfg Config, f DeadLetterFilter) (int, error) {
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return 0, err
	}
	if f == (DeadLetterFilter{}) {
		info, err := st.Info(ctx)
		if err != nil {
			return 0, err
		}
		if err := st.Purge(ctx); err != nil {
			return 0, err
		}
		return int(info.State.Msgs), nil
	}
	dls, err := ListDeadLetters(ctx, js, cfg, f)
	if err != nil {
		return 0, err
	}
	for i, d := range dls {
		if err := st.DeleteMsg(ctx, d.Sequence); err != nil {
			return i, err
		}
	}
	return len(dls), nil
}
