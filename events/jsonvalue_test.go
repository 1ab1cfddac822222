package events

import (
	"bytes"
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

// structuredCases are structured-mode bodies structuredFast must either
// decline or decode exactly as the SDK does; fast says which it decodes.
var structuredCases = []struct {
	body string
	fast bool
}{
	{structuredBody, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t"}`, true},
	{`{"data":{"a":[1,2,{"b":null}]},"type":"t","id":"1","source":"/s?x=1#f","specversion":"1.0","subject":"sub","xtra":"v"}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","data":null}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","data":"just a string","datacontenttype":"text/json; charset=utf-8"}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","data":"x","datacontenttype":"text/plain"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"x":1},"datacontenttype":"application/vnd.x+json"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"e30="}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","dataschema":"::bad"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","time":""}`, true},
	{`{"specversion":"1.0","id":"1","source":"","type":"t"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","ID":"2"}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","Ext":"upper"}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","n":5,"b":true}`, false},
	{`{"specversion":"1.0","specversion":"1.0","id":"1","source":"s","type":"t"}`, false},
	{`{"specversion":"1.0","id":"1","id":"2","source":"s","type":"t"}`, false},
	{`{"specversion":"0.3","id":"1","source":"s","type":"t"}`, false},
	{`{"specversion":1.0,"id":"1","source":"s","type":"t"}`, false},
	{`{"specversion":"1.0","id":1,"source":"s","type":"t"}`, false},
	{`{"specversion":"1.0","id":"","source":"s","type":"t"}`, false},
	{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"data\": \n\t{\"a\":1} }", true},
	{`{"specversion":"1.0","id":"\ud83d\ud83d\ude00","source":"s","type":"t"}`, false},
	{`{"specversion":"1.0","id":"\ud83d\ude00","source":"s","type":"t"}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","Ext":"a","ext":"b"}`, false},
	{`{"specversion":"1.0","id":" ","source":"s","type":"t"}`, false},
	{`{"specversion":"1.0","id":"1","source":" ","type":"t"}`, true}, // the SDK takes it (%20)
	{`{"specversion":"1.0","id":"1","source":"#","type":"t"}`, false},
	{`{"specversion":"1.0","id":"1","source":"https://example.com/a?b#c","type":"t"}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","subject":" "}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json;charset=utf-8","data":{}}`, true},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json;;","data":{}}`, false},
	{`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":" "}`, false},
	{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"data\":{\"k\":\"bad \xff\"}}", false},
	{`[{"specversion":"1.0"}]`, false},
	{`{"specversion":"1.0"} x`, false},
}

func TestStructuredFastAgreesWithTheSDK(t *testing.T) {
	t.Parallel()
	for _, tc := range structuredCases {
		if fast := checkStructuredFast(t, []byte(tc.body)); fast != tc.fast {
			t.Errorf("%s: decoded by structuredFast: %t, want %t", tc.body, fast, tc.fast)
		}
	}
}

// checkStructuredFast reports whether structuredFast decoded body, and
// fails t if what it decoded differs from the SDK's reading.
func checkStructuredFast(t *testing.T, body []byte) bool {
	t.Helper()
	e, data, ok := structuredFast(body)
	if !ok {
		return false
	}
	if err := e.Validate(); err != nil {
		t.Errorf("%s: structuredFast decoded an event the SDK finds invalid: %v", body, err)
	}
	want, err := decodeStructured(body)
	if err != nil {
		t.Errorf("%s: structuredFast decoded what the SDK refuses (%v)", body, err)
		return true
	}
	if !reflect.DeepEqual(e.Context, want.Context) || !bytes.Equal(e.DataEncoded, want.DataEncoded) || e.DataBase64 != want.DataBase64 {
		t.Errorf("%s:\nstructuredFast %+v data %q\nSDK            %+v data %q", body, e.Context, e.DataEncoded, want.Context, want.DataEncoded)
	}
	var wantData any
	if len(want.DataEncoded) > 0 {
		if err := json.Unmarshal(want.DataEncoded, &wantData); err != nil {
			t.Errorf("%s: data %q is not JSON: %v", body, want.DataEncoded, err)
		}
	}
	if !reflect.DeepEqual(data, wantData) {
		t.Errorf("%s: data %#v, encoding/json gives %#v", body, data, wantData)
	}
	return true
}

// FuzzStructuredFast: what structuredFast decodes, the SDK decodes the
// same. Run: go test ./events -fuzz FuzzStructuredFast
func FuzzStructuredFast(f *testing.F) {
	for _, tc := range structuredCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkStructuredFast(t, body)
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
