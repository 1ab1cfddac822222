package worker

import (
	"context"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// deadLetters is the streams side of the worker's dead letters
// (streams.DeadLetterer): it publishes and records a dead letter, and
// settle Terms the message only once that succeeded.
type deadLetters interface {
	// DeadLetter dead-letters a delivered message and records failed
	// (completed from fail) after done; on an error the message must
	// not be settled.
	DeadLetter(ctx context.Context, o streams.Original, failed audit.Decision, fail *action.Error, done []audit.Decision) (audit.Decision, error)
	// MoveExhausted dead-letters the message a max-deliveries advisory
	// names and deletes it from the intake.
	MoveExhausted(ctx context.Context, advisory []byte) (d audit.Decision, made bool, err error)
}
