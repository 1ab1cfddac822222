package huawei

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/remediator/remediator/worker/action"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestErrorTable checks every row of the table and the status fallbacks.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	svc := func(status int, code string) error {
		return &sdkerr.ServiceResponseError{StatusCode: status, ErrorCode: code, ErrorMessage: "msg"}
	}
	cases := []struct {
		name   string
		op     string
		err    error
		class  action.Class
		reason action.Reason
	}{
		{"throttled", opEnableKeyRotation, svc(429, "APIGW.0308"), action.Retryable, action.ReasonThrottled},
		{"auth", opEnableKeyRotation, svc(401, "APIGW.0301"), action.Permanent, action.ReasonAuthFailed},
		{"invalid key id", opEnableKeyRotation, svc(400, "KMS.0205"), action.Permanent, action.ReasonInvalidParams},
		{"not found", opEnableKeyRotation, svc(404, "KMS.0207"), action.Permanent, action.ReasonNotFound},
		{"disabled", opEnableKeyRotation, svc(400, "KMS.0209"), action.Permanent, action.ReasonKeyNotUsable},
		{"pending deletion", opEnableKeyRotation, svc(400, "KMS.0210"), action.Permanent, action.ReasonKeyNotUsable},
		{"default key rotation", opEnableKeyRotation, svc(400, "KMS.0211"), action.Permanent, action.ReasonNotRotatable},
		{"default key other op", opGetKeyRotationStatus, svc(400, "KMS.0211"), action.Permanent, action.ReasonKeyNotUsable},
		{"no permission", opEnableKeyRotation, svc(403, "KMS.0306"), action.Permanent, action.ReasonPermissionDenied},
		{"already disabled", opEnableKeyRotation, svc(400, "KMS.1301"), action.AlreadyDone, action.ReasonAlreadyDone},
		{"already enabled", opEnableKeyRotation, svc(400, "KMS.2901"), action.AlreadyDone, action.ReasonAlreadyDone},
		{"bare 429", opEnableKeyRotation, svc(429, ""), action.Retryable, action.ReasonThrottled},
		{"500", opEnableKeyRotation, svc(500, "KMS.0001"), action.Retryable, action.ReasonUnavailable},
		{"502", opEnableKeyRotation, svc(502, ""), action.Retryable, action.ReasonUnavailable},
		{"503", opEnableKeyRotation, svc(503, "SYS.0503"), action.Retryable, action.ReasonUnavailable},
		{"504", opEnableKeyRotation, svc(504, ""), action.Retryable, action.ReasonTimeout},
		{"unknown 400", opEnableKeyRotation, svc(400, "KMS.9999"), action.Permanent, action.ReasonProviderError},
		{"403 unknown code", opEnableKeyRotation, svc(403, "X"), action.Permanent, action.ReasonPermissionDenied},
		{"transport timeout", opEnableKeyRotation, &url.Error{Op: "Post", URL: "http://x", Err: timeoutErr{}}, action.Retryable, action.ReasonTimeout},
		{"connection refused", opEnableKeyRotation, &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, action.Retryable, action.ReasonConnection},
		{"deadline", opEnableKeyRotation, context.DeadlineExceeded, action.Retryable, action.ReasonTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ae *action.Error
			if !errors.As(classify(tc.op, tc.err), &ae) {
				t.Fatalf("not an *action.Error")
			}
			if ae.Class != tc.class || ae.Reason != tc.reason {
				t.Errorf("got %s/%s, want %s/%s", ae.Class, ae.Reason, tc.class, tc.reason)
			}
		})
	}
}

// TestErrorsHideURLs: a transport error's URL is not repeated in the
// action error text (real SDK URLs carry no secrets, but signed URLs of
// other SDKs do, so the policy is uniform).
func TestErrorsHideURLs(t *testing.T) {
	t.Parallel()
	err := classify(opEnableKeyRotation, &url.Error{Op: "Post", URL: "http://h/?AccessKeyId=AK&Signature=S", Err: timeoutErr{}})
	if got := err.Error(); got != "timeout: kms.enable-key-rotation: timeout" {
		t.Errorf("error text %q", got)
	}
}

func TestCredentialsNeverPrint(t *testing.T) {
	t.Parallel()
	c := Credentials{AccessKey: "AKIDEXAMPLE1234", SecretKey: "topsecretvalue", SecurityToken: "tok-secret"}
	for _, s := range []string{c.String(), c.GoString()} {
		for _, secret := range []string{"topsecretvalue", "tok-secret", "AKIDEXAMPLE1234"} {
			if contains(s, secret) {
				t.Errorf("%q reveals %q", s, secret)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
