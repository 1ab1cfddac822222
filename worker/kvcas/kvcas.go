// Package kvcas changes one key of a JetStream key-value bucket by
// compare-and-set: read the entry, change it, write it back (Create for a
// missing key, Update at the revision read otherwise) and, when another
// writer came first, read again and change the fresh value.
//
// It is the one copy of that loop: the approval store and the write
// limits use it, so they agree on what a lost race is, how long to wait
// before the next try and how giving up is reported.
package kvcas

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrContended is returned (wrapped, match it with errors.Is) when every
// try lost its compare-and-set: other writers changed the key each time.
// Nothing was written; the caller may try again later.
var ErrContended = errors.New("compare-and-set lost every try: other writers changed the key each time")

// Change computes the key's next value from its current one; exists is
// false when the key is missing (never written, deleted or purged). It
// returns write=false when there is nothing to write. It is called again
// on the fresh value after each lost race, so it must not keep anything
// from an earlier call that the new value does not justify.
type Change func(cur []byte, exists bool) (next []byte, write bool, err error)

// Update applies change to key by compare-and-set, trying at most tries
// times (at least once). A lost race (jetstream.ErrKeyExists from Create,
// jetstream.ErrKeyRevisionMismatch from Update) is followed by a short,
// growing, jittered pause, so that writers do not collide in step, and a
// fresh read. It returns nil once the value is stored or change has
// nothing to write; change's own error as it is (nothing is written);
// ErrContended when the tries run out; ctx's error when ctx ends first.
// Read and write failures are returned wrapped with the bucket and key.
func Update(ctx context.Context, kv jetstream.KeyValue, key string, tries int, change Change) error {
	tries = max(tries, 1)
	for try := range tries {
		if try > 0 {
			if err := pause(ctx, try); err != nil {
				return fmt.Errorf("bucket %s, key %s: stopped after %d lost compare-and-sets: %w", kv.Bucket(), key, try, err)
			}
		}
		var cur []byte
		var rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			cur, rev = e.Value(), e.Revision()
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return fmt.Errorf("bucket %s, key %s: read: %w", kv.Bucket(), key, err)
		}
		next, write, err := change(cur, rev != 0)
		if err != nil || !write {
			return err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, next)
		} else {
			_, err = kv.Update(ctx, key, next, rev)
		}
		switch {
		case err == nil:
			return nil
		case !isConflict(err):
			return fmt.Errorf("bucket %s, key %s: write at revision %d: %w", kv.Bucket(), key, rev, err)
		}
	}
	return fmt.Errorf("bucket %s, key %s: %w (%d tries)", kv.Bucket(), key, ErrContended, tries)
}

// isConflict reports whether err is a lost compare-and-set: the key was
// created, or its revision moved on, since it was read. A Create over a
// deleted key is an update at the delete marker's revision, and nats.go
// returns that update's API error as it is: wrong last sequence (10071,
// or 10164 from a replicated bucket).
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) &&
		(api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// pause waits before try number try (1, 2, ...): up to try milliseconds,
// jittered, or until ctx ends.
func pause(ctx context.Context, try int) error {
	d := time.Duration(try) * time.Duration(rand.Int64N(int64(time.Millisecond))+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
