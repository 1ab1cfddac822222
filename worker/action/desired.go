package action

import (
	"context"
	"errors"
)

// Desired declares how one action ensures its desired state; Ensure runs
// it. An action builds it per call, its functions closing over the
// request's client and parameters, so it says only what differs between
// actions: how to read, when the state is compliant, what refuses a
// write, how to write, and how to describe a state. Ensure owns the rest,
// the same for every action: no write when compliant, the dry run, a
// write refused as already done, and the read back that verifies.
type Desired[S any] struct {
	// Read reads the current state. It may refuse what holds whatever
	// the state (default encryption off in the region, a key never to be
	// touched); its error is Ensure's.
	Read func(ctx context.Context) (S, error)
	// Compliant says whether s is the desired state.
	Compliant func(s S) bool
	// Check, when set, refuses a drifted state before it is planned or
	// written (a key that cannot rotate, or is not enabled). It runs only
	// when the state is not compliant, so it may make calls of its own
	// that a compliant resource is spared.
	Check func(ctx context.Context, s S) error
	// Write sends the change. An error of class AlreadyDone counts as
	// compliant: the read back still verifies, and the result is not
	// Changed.
	Write func(ctx context.Context, s S) error
	// ReadBack reads the state after the write (nil: Read).
	ReadBack func(ctx context.Context) (S, error)
	// Describe is s in words, for Result.Before and Result.After.
	Describe func(s S) string
	// Want is the desired state in words: Result.After of a dry run.
	Want string
	// Unverified, when set, is the message of the verify_failed error
	// when the state read back is not compliant (default: "reads as
	// <Describe> after the write").
	Unverified func(s S) string
}

// Ensure makes d's desired state hold for req: read; when compliant, no
// write; checks; a dry run stops there with Planned; write; read back and
// verify. A state still drifted after the write is a retryable
// verify_failed. Every error but verify_failed is the one a step
// returned, unchanged.
func Ensure[S any](ctx context.Context, req Request, d Desired[S]) (Result, error) {
	s, err := d.Read(ctx)
	if err != nil {
		return Result{}, err
	}
	before := d.Describe(s)
	if d.Compliant(s) {
		return Result{Before: before, After: before}, nil
	}
	if d.Check != nil {
		if err := d.Check(ctx, s); err != nil {
			return Result{}, err
		}
	}
	if req.DryRun {
		return Result{Planned: true, Before: before, After: d.Want}, nil
	}
	err = d.Write(ctx, s)
	var ae *Error
	done := err != nil && errors.As(err, &ae) && ae.Class == AlreadyDone
	if err != nil && !done {
		return Result{}, err
	}
	readBack := d.ReadBack
	if readBack == nil {
		readBack = d.Read
	}
	if s, err = readBack(ctx); err != nil {
		return Result{}, err
	}
	if !d.Compliant(s) {
		msg := "reads as " + d.Describe(s) + " after the write"
		if d.Unverified != nil {
			msg = d.Unverified(s)
		}
		return Result{}, &Error{Class: Retryable, Reason: ReasonVerifyFailed, Msg: msg}
	}
	return Result{Changed: !done, Before: before, After: d.Describe(s)}, nil
}
