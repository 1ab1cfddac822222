package events

import (
	"context"
	"errors"
	"testing"
)

// FuzzDecode: decoding never panics, and every failure is an
// *InvalidError. Run: go test ./events -fuzz FuzzDecode
func FuzzDecode(f *testing.F) {
	f.Add([]byte(structuredBody), "application/cloudevents+json", "")
	f.Add([]byte(`{"trace_name":"x"}`), "application/json", "1.0")
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"e30="}`), "", "")
	f.Add([]byte(`not json`), "", "1.0")
	f.Fuzz(func(t *testing.T, body []byte, contentType, specversion string) {
		h := map[string][]string{}
		if contentType != "" {
			h["Content-Type"] = []string{contentType}
		}
		if specversion != "" {
			h["ce-specversion"] = []string{specversion}
			h["ce-id"], h["ce-source"], h["ce-type"] = []string{"id"}, []string{"src"}, []string{"type"}
		}
		env, err := Decode(context.Background(), h, body)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("error %v is not an *InvalidError", err)
			}
			return
		}
		if env.Event.SpecVersion() != SpecVersion || env.Event.ID() == "" {
			t.Fatalf("accepted an invalid event: %+v", env.Event)
		}
		_ = env.Attributes()
	})
}
