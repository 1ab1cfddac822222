package action

import "testing"

// TestByStatus: the status fallback both providers share.
func TestByStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		class  Class
		reason Reason
	}{
		{429, Retryable, ReasonThrottled},
		{500, Retryable, ReasonUnavailable},
		{502, Retryable, ReasonUnavailable},
		{503, Retryable, ReasonUnavailable},
		{504, Retryable, ReasonTimeout},
		{401, Permanent, ReasonAuthFailed},
		{403, Permanent, ReasonPermissionDenied},
		{404, Permanent, ReasonNotFound},
		{400, Permanent, ReasonProviderError},
		{409, Permanent, ReasonProviderError},
	} {
		if c, r := ByStatus(tc.status); c != tc.class || r != tc.reason {
			t.Errorf("%d: %s/%s, want %s/%s", tc.status, c, r, tc.class, tc.reason)
		}
	}
}
