package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// jsonCases are texts parseJSON must judge and decode as encoding/json does.
var jsonCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e3`, `-12.25E-2`, `true`, `false`, `null`, ` {"a" : [1, "x", null, {"b": false}] } `,
	`{"a":1,"a":2}`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
	`"\ud83d\ud83d\ude00"`, "\"caf\xc3\xa9\"", "\"bad \xff byte\"", "\"\xed\xa0\x80\"", `"` + "\u2028" + `"`,
	`1e400`, `-1e400`, `1e-400`, `123456789012345678901234567890`,
	// invalid
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `1e+`, `-`, `+1`, `0x10`, `NaN`,
	`tru`, `nul`, `"abc`, "\"a\tb\"", "\"a\x00b\"", `"\x"`, `"\u12"`, `"\u12g4"`, `{} {}`, `[1] x`, "{}\x00", `[1 2]`,
	`{"a":1 "b":2}`, `{"a":}`, `[`, `["a"`, `{"a"`, `{"a":`, "\ufeff{}", `"\`,
}

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range jsonCases {
		checkLikeEncodingJSON(t, []byte(in))
	}
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	if _, err := parseJSON([]byte(deep)); err == nil {
		t.Error("nesting deeper than encoding/json allows was accepted")
	}
}

func checkLikeEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(in, &want)
	got, err := parseJSON(in)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Errorf("%q: parseJSON error %v, encoding/json error %v", in, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Errorf("%q: parseJSON gave %#v, encoding/json %#v", in, got, want)
	}
}

// FuzzParseJSON: parseJSON accepts exactly what encoding/json.Unmarshal
// accepts and gives the same value. Run: go test ./events -fuzz FuzzParseJSON
func FuzzParseJSON(f *testing.F) {
	for _, in := range jsonCases {
		f.Add([]byte(in))
	}
	f.Add([]byte(structuredBody))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkLikeEncodingJSON(t, in)
	})
}

// Keys from the shared key table are right whatever replaced what, from
// any number of goroutines (run with -race).
func TestKeyTableUnderChurn(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 5000 {
				k := "k" + strings.Repeat("x", (i+g)%40) + string(rune('a'+i%26))
				v, err := parseJSON([]byte(`{"` + k + `":1}`))
				if err != nil {
					t.Error(err)
					return
				}
				if _, ok := v.(map[string]any)[k]; !ok {
					t.Errorf("key %q came back as %v", k, v)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
