package events_test

import (
	"context"
	"os"
	"testing"

	"github.com/remediator/remediator/events"
)

// BenchmarkDecode measures decoding one CTS trace (the worker's per-event
// cost before rules run), in each mode, with normalisation.
// Run: go test ./events -run '^$' -bench Decode -benchmem
func BenchmarkDecode(b *testing.B) {
	body, err := os.ReadFile("../testdata/events/01-huawei-cts-rotation-disabled.json")
	if err != nil {
		b.Fatal(err)
	}
	hdr, data, err := events.ToBinary(body)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hdr  map[string][]string
		body []byte
	}{
		{"structured", map[string][]string{"Content-Type": {events.StructuredContentType}}, body},
		{"binary", hdr, data},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				env, err := events.Decode(context.Background(), tc.hdr, tc.body)
				if err != nil {
					b.Fatal(err)
				}
				if env.Finding, err = (events.Normalizer{}).Normalize(env); err != nil || env.Finding == nil {
					b.Fatal("not normalised", err)
				}
			}
		})
	}
}
