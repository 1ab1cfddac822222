package action

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Class says what the worker should do with a failed attempt.
type Class int

// Error classes.
const (
	// Retryable failures may succeed later: throttling, 5xx, timeouts,
	// connection errors.
	Retryable Class = iota + 1
	// Permanent failures will not succeed by retrying: invalid input, a
	// resource that does not exist, a refused permission.
	Permanent
	// AlreadyDone means the provider refused the write because the desired
	// state already holds.
	AlreadyDone
	// Superseded means the worker lost (or cannot prove it holds) the
	// event's lease: another delivery of the message owns the work now, so
	// this one must neither write, record, ack nor Nak.
	Superseded
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case AlreadyDone:
		return "already_done"
	case Superseded:
		return "superseded"
	}
	return "unknown"
}

// Reason is a provider's cause of a failure, from a closed set (Reasons),
// safe to use as a metric label and a dead-letter header. The worker adds
// its own reasons (worker/audit) for what happens around the action.
type Reason string

// Provider reasons.
const (
	ReasonThrottled        Reason = "throttled"
	ReasonUnavailable      Reason = "unavailable"
	ReasonTimeout          Reason = "timeout"
	ReasonConnection       Reason = "connection"
	ReasonNotFound         Reason = "not_found"
	ReasonInvalidParams    Reason = "invalid_params"
	ReasonPermissionDenied Reason = "permission_denied"
	ReasonAuthFailed       Reason = "auth_failed"
	ReasonNotRotatable     Reason = "not_rotatable"
	ReasonKeyNotUsable     Reason = "key_not_usable"
	ReasonNoCredentials    Reason = "no_credentials"
	ReasonVerifyFailed     Reason = "verify_failed"
	ReasonProviderError    Reason = "provider_error"
	ReasonCanceled         Reason = "canceled"
	ReasonAlreadyDone      Reason = "already_done"
	ReasonEncryptionOff    Reason = "encryption_off" // default encryption is off in the region
	ReasonRefused          Reason = "refused"        // a destructive action's guard refused the target
)

// Reasons lists the provider reasons.
func Reasons() []Reason {
	return []Reason{ReasonThrottled, ReasonUnavailable, ReasonTimeout, ReasonConnection, ReasonNotFound,
		ReasonInvalidParams, ReasonPermissionDenied, ReasonAuthFailed, ReasonNotRotatable, ReasonKeyNotUsable,
		ReasonNoCredentials, ReasonVerifyFailed, ReasonProviderError, ReasonCanceled, ReasonAlreadyDone,
		ReasonEncryptionOff, ReasonRefused}
}

// Error is an action failure with its class. Code is the provider's error
// code when there is one. Msg must never hold credentials.
type Error struct {
	Class  Class
	Reason Reason
	Code   string
	Msg    string
	Err    error
	// RetryAfter, when set on a retryable error, is the earliest useful
	// time to try again (it overrides the backoff, up to RetryMax).
	RetryAfter time.Duration
	// WaitFull makes the worker wait all of RetryAfter rather than retry
	// sooner with its backoff.
	WaitFull bool
}

func (e *Error) Error() string {
	s := string(e.Reason)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(class Class, reason Reason, code, format string, args ...any) *Error {
	return &Error{Class: class, Reason: reason, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Classify returns err as an *Error. Unclassified errors are sorted by
// what they are: context and network timeouts and connection failures are
// retryable; anything else is a permanent provider error, because retrying
// an error nobody understands only delays the dead letter.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Class: Retryable, Reason: ReasonCanceled, Msg: "canceled", Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Class: Retryable, Reason: ReasonTimeout, Msg: "timed out", Err: err}
	case errors.As(err, &ne):
		return &Error{Class: Retryable, Reason: ReasonConnection, Msg: "connection failed", Err: err}
	}
	return &Error{Class: Permanent, Reason: ReasonProviderError, Msg: err.Error(), Err: err}
}

// ByStatus classifies a provider's HTTP error response by its status
// alone, for the codes a provider's table does not name: 429 throttled,
// 504 timeout and other 5xx unavailable (retryable); 401 auth_failed, 403
// permission_denied, 404 not_found and any other status provider_error
// (permanent).
func ByStatus(status int) (Class, Reason) {
	switch {
	case status == http.StatusTooManyRequests:
		return Retryable, ReasonThrottled
	case status == http.StatusGatewayTimeout:
		return Retryable, ReasonTimeout
	case status >= 500:
		return Retryable, ReasonUnavailable
	case status == http.StatusUnauthorized:
		return Permanent, ReasonAuthFailed
	case status == http.StatusForbidden:
		return Permanent, ReasonPermissionDenied
	case status == http.StatusNotFound:
		return Permanent, ReasonNotFound
	}
	return Permanent, ReasonProviderError
}
