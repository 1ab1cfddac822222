package events

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestDecodeConflictingDuplicateHeaders: an attribute header given twice
// (two casings, or two values of one name) with different values is an
// invalid event, every time; identical duplicates are accepted.
func TestDecodeConflictingDuplicateHeaders(t *testing.T) {
	t.Parallel()
	base := func(extra map[string][]string) map[string][]string {
		h := map[string][]string{"ce-specversion": {"1.0"}, "ce-source": {"HC.KMS"}, "ce-type": {"t"}, "ce-id": {"e-1"}}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	conflicting := []struct {
		name   string
		header map[string][]string
		want   string
	}{
		{"ce-id and CE-ID", base(map[string][]string{"CE-ID": {"e-2"}}), "header ce-id given twice"},
		{"ce-id twice", base(map[string][]string{"ce-id": {"e-1", "e-2"}}), "header ce-id given twice"},
		{"extension in two casings", base(map[string][]string{"ce-ttl": {"1"}, "Ce-Ttl": {"2"}}), "header ce-ttl given twice"},
		{"content type in two casings", base(map[string][]string{"content-type": {"application/json"}, "Content-Type": {"text/plain"}}), "header content-type given twice"},
	}
	for _, tc := range conflicting {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			accepted := 0
			for range 50 { // map order varies from one walk to the next
				_, err := Decode(context.Background(), tc.header, []byte(`{"a":1}`))
				var inv *InvalidError
				if !errors.As(err, &inv) {
					accepted++
					continue
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %q, want it to contain %q", err, tc.want)
				}
			}
			if accepted > 0 {
				t.Errorf("%d of 50 decodes accepted the conflicting headers", accepted)
			}
		})
	}
	identical := base(map[string][]string{"CE-ID": {"e-1"}, "ce-type": {"t", "t"}, "X-Other": {"a"}, "x-other": {"b"}})
	env, err := Decode(context.Background(), identical, []byte(`{"a":1}`))
	if err != nil {
		t.Fatalf("identical duplicates: %v", err)
	}
	if env.Event.ID() != "e-1" {
		t.Errorf("id = %q", env.Event.ID())
	}
}
