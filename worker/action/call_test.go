package action

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCallReturnsWhenContextEnds: a call stuck in the SDK does not hold
// the caller past its context, and does not hold up other calls.
func TestCallReturnsWhenContextEnds(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := Call(ctx, func() (int, error) { <-release; return 1, nil })
	var ae *Error
	if !errors.As(err, &ae) || ae.Class != Retryable || ae.Reason != ReasonTimeout {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
	v, err := Call(context.Background(), func() (int, error) { return 2, nil })
	if v != 2 || err != nil {
		t.Fatalf("a call beside a stuck one: %d, %v", v, err)
	}
}

// TestCallsReuseGoroutines: calls one after another mostly run on
// goroutines earlier calls started, not on one new goroutine each.
func TestCallsReuseGoroutines(t *testing.T) {
	ids := map[string]bool{}
	for range 200 {
		id, err := Call(context.Background(), func() (string, error) {
			buf := make([]byte, 64)
			f := strings.Fields(string(buf[:runtime.Stack(buf, false)])) // "goroutine N [running]:"
			return f[1], nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if len(ids) > 50 {
		t.Errorf("200 calls ran on %d goroutines", len(ids))
	}
}
