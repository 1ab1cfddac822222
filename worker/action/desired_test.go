package action

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeResource is a setting that is "on" when compliant; it counts calls
// and can be told how its write and read back go.
type fakeResource struct {
	state    string
	afterW   string // the state a write leaves ("" : "on")
	writeErr error
	checkErr error
	calls    []string
}

func (f *fakeResource) desired() Desired[string] {
	return Desired[string]{
		Read:      func(context.Context) (string, error) { f.calls = append(f.calls, "read"); return f.state, nil },
		Compliant: func(s string) bool { return s == "on" },
		Check:     func(context.Context, string) error { f.calls = append(f.calls, "check"); return f.checkErr },
		Write: func(context.Context, string) error {
			f.calls = append(f.calls, "write")
			if f.afterW == "" {
				f.state = "on"
			} else {
				f.state = f.afterW
			}
			return f.writeErr
		},
		Describe: func(s string) string { return "setting " + s },
		Want:     "setting on",
	}
}

// TestEnsure: the template's steps, which calls each outcome makes, and
// the result or error it gives.
func TestEnsure(t *testing.T) {
	t.Parallel()
	refused := Errorf(Permanent, ReasonRefused, "", "no")
	failed := Errorf(Retryable, ReasonThrottled, "", "slow down")
	done := Errorf(AlreadyDone, ReasonAlreadyDone, "", "already on")
	cases := []struct {
		name    string
		f       fakeResource
		dry     bool
		calls   string
		want    Result
		wantErr error  // returned unchanged
		reason  Reason // or an error of this reason
	}{
		{"compliant: no check, no write", fakeResource{state: "on"}, false, "read",
			Result{Before: "setting on", After: "setting on"}, nil, ""},
		{"compliant in a dry run", fakeResource{state: "on"}, true, "read",
			Result{Before: "setting on", After: "setting on"}, nil, ""},
		{"drifted: checked, written, read back", fakeResource{state: "off"}, false, "read check write read",
			Result{Changed: true, Before: "setting off", After: "setting on"}, nil, ""},
		{"dry run plans", fakeResource{state: "off"}, true, "read check",
			Result{Planned: true, Before: "setting off", After: "setting on"}, nil, ""},
		{"a check refuses before the plan", fakeResource{state: "off", checkErr: refused}, true, "read check",
			Result{}, refused, ""},
		{"a check refuses before the write", fakeResource{state: "off", checkErr: refused}, false, "read check",
			Result{}, refused, ""},
		{"a failed write is returned", fakeResource{state: "off", writeErr: failed}, false, "read check write",
			Result{}, failed, ""},
		{"already done counts as compliant, verified", fakeResource{state: "off", writeErr: done}, false, "read check write read",
			Result{Before: "setting off", After: "setting on"}, nil, ""},
		{"already done but still drifted", fakeResource{state: "off", writeErr: done, afterW: "off"}, false, "read check write read",
			Result{}, nil, ReasonVerifyFailed},
		{"still drifted after the write", fakeResource{state: "off", afterW: "half"}, false, "read check write read",
			Result{}, nil, ReasonVerifyFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.f
			res, err := Ensure(context.Background(), Request{DryRun: tc.dry}, f.desired())
			if got := strings.Join(f.calls, " "); got != tc.calls {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
			if res != tc.want {
				t.Errorf("result %+v, want %+v", res, tc.want)
			}
			switch {
			case tc.wantErr != nil:
				if err != tc.wantErr {
					t.Errorf("err = %v, want %v unchanged", err, tc.wantErr)
				}
			case tc.reason != "":
				var ae *Error
				if !errors.As(err, &ae) || ae.Class != Retryable || ae.Reason != tc.reason {
					t.Errorf("err = %v, want retryable %s", err, tc.reason)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestEnsureReadBackAndMessage: ReadBack, when set, replaces Read after
// the write, and Unverified words the verify_failed error.
func TestEnsureReadBackAndMessage(t *testing.T) {
	t.Parallel()
	f := fakeResource{state: "off", afterW: "half"}
	d := f.desired()
	_, err := Ensure(context.Background(), Request{}, d)
	if err == nil || err.Error() != "verify_failed: reads as setting half after the write" {
		t.Errorf("default message: %v", err)
	}
	f = fakeResource{state: "off"}
	d = f.desired()
	backs := 0
	d.ReadBack = func(context.Context) (string, error) { backs++; return "gone", nil }
	d.Unverified = func(s string) string { return "the setting is " + s }
	_, err = Ensure(context.Background(), Request{}, d)
	if backs != 1 || strings.Join(f.calls, " ") != "read check write" {
		t.Errorf("read back %d times, calls %v", backs, f.calls)
	}
	if err == nil || err.Error() != "verify_failed: the setting is gone" {
		t.Errorf("Unverified message: %v", err)
	}
	failed := Errorf(Retryable, ReasonUnavailable, "", "down")
	f = fakeResource{state: "off"}
	d = f.desired()
	d.ReadBack = func(context.Context) (string, error) { return "", failed }
	if _, err := Ensure(context.Background(), Request{}, d); err != failed {
		t.Errorf("a failed read back: %v, want it unchanged", err)
	}
	d.Read = func(context.Context) (string, error) { return "", failed }
	d.Write = func(context.Context, string) error { t.Error("written after a failed read"); return nil }
	if _, err := Ensure(context.Background(), Request{}, d); err != failed {
		t.Errorf("a failed read: %v, want it unchanged", err)
	}
}
