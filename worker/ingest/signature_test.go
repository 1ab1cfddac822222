package ingest

import (
	"net/http"
	"testing"
	"time"
)

// TestSigningStringIsExact pins the canonical string senders sign.
func TestSigningStringIsExact(t *testing.T) {
	t.Parallel()
	h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"a.b"}, "Ce-Source": {"c"}, "Ce-Type": {"T"}}
	got, err := SigningString("1700000000", h, []byte(`{"x":1}`))
	if err != nil || string(got) != "1700000000\n1.0\na.b\nc\nT\n{\"x\":1}" {
		t.Fatalf("%q %v", got, err)
	}
	structured, _ := SigningString("1700000000", http.Header{}, []byte(`{}`))
	if string(structured) != "1700000000\n\n\n\n\n{}" {
		t.Errorf("structured: %q", structured)
	}
	h.Add("Ce-Id", "again")
	if _, err := SigningString("1", h, nil); err == nil {
		t.Error("two ce-id headers were signed")
	}
}

func TestParseSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	v := "0000000000000000000000000000000000000000000000000000000000000000"
	cases := []struct{ header, reason string }{
		{"t=1700000000,v1=" + v, ""},
		{"t=1700000000,v1=zz,v1=" + v, "signature_missing"},
		{"t=1700000000, v1=" + v + ", v1=" + v, ""},
		{"v1=" + v, "signature_missing"},
		{"t=1700000000", "signature_missing"},
		{"t=1699999000,v1=" + v, "timestamp_outside_window"},
		{"t=1700000400,v1=" + v, "timestamp_outside_window"},
		{"sha256=" + v, "signature_legacy"},
	}
	for _, tc := range cases {
		_, err := parseSignature(tc.header, now, 5*time.Minute)
		reason := ""
		if se, ok := err.(*sigError); ok {
			reason = se.reason
		}
		if reason != tc.reason {
			t.Errorf("%s: %q, want %q", tc.header, reason, tc.reason)
		}
	}
}
