package kvcas

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestIsConflict: a lost compare-and-set is recognised however nats.go
// reports it: its key errors, or the raw wrong-last-sequence API error a
// Create over a deleted key returns (10071 standalone, 10164 replicated),
// wrapped or not; other API errors are failures.
func TestIsConflict(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		jetstream.ErrKeyExists:           true,
		jetstream.ErrKeyRevisionMismatch: true,
		&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}:                           true,
		&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}:                   true,
		fmt.Errorf("update: %w", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}): true,
		&jetstream.APIError{Code: 503, ErrorCode: jetstream.JSErrCodeJetStreamNotEnabled}:                               false,
		errors.New("nats: timeout"): false,
	} {
		if got := isConflict(err); got != want {
			t.Errorf("isConflict(%v) = %v, want %v", err, got, want)
		}
	}
}
