package events

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const structuredBody = `{"specversion":"1.0","id":"e-1","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall",
"time":"2026-11-20T08:00:00.123456789Z","ttl":"4320","datacontenttype":"application/json",
"data":{"trace_name":"disableKeyRotation","resource_id":"k-1","code":200}}`

func TestDecodeModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header map[string][]string
		body   string
		mode   Mode
	}{
		{"structured", map[string][]string{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}, structuredBody, Structured},
		{"structured without content type", nil, structuredBody, Structured},
		{"binary", map[string][]string{
			"ce-specversion": {"1.0"}, "ce-id": {"e-1"}, "ce-source": {"HC.KMS"},
			"ce-type": {"KMS:CloudTrace:ApiCall"}, "ce-time": {"2026-11-20T08:00:00.123456789Z"},
			"ce-ttl": {"4320"}, "content-type": {"application/json"},
		}, `{"trace_name":"disableKeyRotation","resource_id":"k-1","code":200}`, Binary},
		{"binary with capitalised headers", map[string][]string{
			"Ce-Specversion": {"1.0"}, "Ce-Id": {"e-1"}, "Ce-Source": {"HC.KMS"},
			"Ce-Type": {"KMS:CloudTrace:ApiCall"}, "Ce-Time": {"2026-11-20T08:00:00.123456789Z"}, "Ce-Ttl": {"4320"},
		}, `{"trace_name":"disableKeyRotation","resource_id":"k-1","code":200}`, Binary},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, err := Decode(context.Background(), tc.header, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if env.Mode != tc.mode {
				t.Errorf("mode = %s, want %s", env.Mode, tc.mode)
			}
			a := env.Attributes()
			if a["id"] != "e-1" || a["source"] != "HC.KMS" || a["type"] != "KMS:CloudTrace:ApiCall" || a["ttl"] != "4320" {
				t.Errorf("attributes = %v", a)
			}
			if a["time"] != "2026-11-20T08:00:00.123456789Z" {
				t.Errorf("time = %v (nanoseconds must survive)", a["time"])
			}
			data, ok := env.Data.(map[string]any)
			if !ok || data["resource_id"] != "k-1" || data["code"] != float64(200) {
				t.Errorf("data = %#v", env.Data)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	t.Parallel()
	ce := map[string][]string{"Content-Type": {StructuredContentType}}
	cases := []struct {
		name   string
		header map[string][]string
		body   string
		want   string
	}{
		{"not json", ce, `hello`, "body is not a JSON object"},
		{"json array", ce, `[1,2]`, "body is not a JSON object"},
		{"plain text no headers", nil, `hello`, "neither a structured CloudEvent"},
		{"missing specversion", ce, `{"id":"1","source":"s","type":"t"}`, "missing specversion"},
		{"old specversion", ce, `{"specversion":"0.3","id":"1","source":"s","type":"t"}`, `unsupported specversion "0.3"`},
		{"missing id", ce, `{"specversion":"1.0","source":"s","type":"t"}`, "not a valid CloudEvent"},
		{"missing source", ce, `{"specversion":"1.0","id":"1","type":"t"}`, "not a valid CloudEvent"},
		{"missing type", ce, `{"specversion":"1.0","id":"1","source":"s"}`, "not a valid CloudEvent"},
		{"bad time", ce, `{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}`, "cannot decode"},
		{"truncated", ce, `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":`, "body is not a JSON object"},
		{"binary wrong version", map[string][]string{"ce-specversion": {"2.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}}, `{}`, `unsupported specversion "2.0"`},
		{"binary missing id", map[string][]string{"ce-specversion": {"1.0"}, "ce-source": {"s"}, "ce-type": {"t"}}, `{}`, "not a valid CloudEvent"},
		{"binary bad json data", map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}, "content-type": {"application/json"}}, `{"a":`, "data is not valid JSON"},
		{"binary data past a NUL", map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}, "content-type": {"application/json"}}, "{\"a\":1}\x00{\"b\":2}", "data is not valid JSON"},
		{"binary raw control character", map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}, "content-type": {"application/json"}}, "{\"a\":\"x\x01y\"}", "data is not valid JSON"},
		{"base64 data past a NUL", ce, `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json","data_base64":"eyJhIjoxfQB7ImIiOjJ9"}`, "data is not valid JSON"},
		{"body past a NUL", ce, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}\x00{}", "body is not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(context.Background(), tc.header, []byte(tc.body))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDedupID(t *testing.T) {
	t.Parallel()
	a, b := DedupID("s", "1"), DedupID("s1", "")
	if a == b {
		t.Error("source and id must be separated in the hash")
	}
	if a != DedupID("s", "1") || len(a) != 64 {
		t.Errorf("DedupID not stable or not hex sha256: %s", a)
	}
}

// TestDecodeData pins how data is read (encoding/json into an any, in
// either mode): what it accepts, what it turns into what, and what makes
// the event invalid.
func TestDecodeData(t *testing.T) {
	t.Parallel()
	bin := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}, "content-type": {"application/json"}}
	ce := map[string][]string{"Content-Type": {StructuredContentType}}
	structured := func(data string) string {
		return `{"specversion":"1.0","id":"1","source":"s","type":"t","data":` + data + `}`
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name string
		data string
		want any    // the data decoded, when accepted
		err  string // what the error says, when not
		// structuredErr is what it says in structured mode when that
		// differs: there the SDK reads the body first, data included.
		structuredErr string
	}{
		{"duplicate keys: the last wins", `{"a":1,"a":2}`, map[string]any{"a": float64(2)}, "", ""},
		{"invalid UTF-8 becomes U+FFFD", "\"bad \xff byte\"", "bad \uFFFD byte", "", ""},
		{"a lone surrogate escape becomes U+FFFD", `"\ud83d"`, "\uFFFD", "", ""},
		{"a surrogate pair is one rune", `"\ud83d\ude00"`, "\U0001F600", "", ""},
		{"numbers are float64", `[0,-1.5e3,123456789012345678901234567890]`, []any{float64(0), -1500.0, 1.2345678901234568e29}, "", ""},
		{"nesting of 9999", deep(9999), nil, "", ""},
		// In structured mode the limit is on the whole body: data is one deeper.
		{"nesting of 10000", deep(10000), nil, "", "body is not a JSON object: invalid character '[' exceeded max depth"},
		{"nesting deeper than 10000", deep(10001), nil, "data is not valid JSON: invalid character '[' exceeded max depth", "body is not a JSON object: invalid character '[' exceeded max depth"},
		{"a number no float64 holds", `{"n":1e400}`, nil, "data is not valid JSON: json: cannot unmarshal number 1e400", "cannot decode structured-mode event: readNumberAsString: invalid number"},
		{"a raw control character", "\"a\tb\"", nil, "invalid character", ""},
		{"a trailing comma", `[1,]`, nil, "invalid character", ""},
	}
	// A +json media type the SDK does not read as JSON: it keeps the
	// content of the data's JSON string, which the body's check did not
	// cover, and that content is checked as JSON data.
	vnd := `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/vnd.x+json","data":`
	for _, c := range []struct{ data, err string }{
		{`"1\u0000x"`, "data is not valid JSON: invalid character '\\x00' after top-level value"},
		{`"{\"a\":1} x"`, "data is not valid JSON: invalid character 'x' after top-level value"},
		{`"{\"a\":1}"`, ""},
	} {
		env, err := Decode(context.Background(), ce, []byte(vnd+c.data+`}`))
		switch {
		case c.err == "" && (err != nil || !reflect.DeepEqual(env.Data, map[string]any{"a": float64(1)})):
			t.Errorf("vnd.x+json %s: %v, %v; want data {a: 1}", c.data, env, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("vnd.x+json %s: err %v, want it to contain %q", c.data, err, c.err)
		}
	}
	for _, tc := range cases {
		for _, mode := range []Mode{Binary, Structured} {
			t.Run(tc.name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				h, body, wantErr := bin, tc.data, tc.err
				if mode == Structured {
					h, body = ce, structured(tc.data)
					if tc.structuredErr != "" {
						wantErr = tc.structuredErr
					}
				}
				env, err := Decode(context.Background(), h, []byte(body))
				switch {
				case wantErr == "" && err != nil:
					t.Fatalf("err = %v, want the data accepted", err)
				case wantErr == "":
					if tc.want != nil && !reflect.DeepEqual(env.Data, tc.want) {
						t.Errorf("data = %#v, want %#v", env.Data, tc.want)
					}
				case err == nil:
					t.Fatalf("accepted, want an error containing %q", wantErr)
				case !strings.Contains(err.Error(), wantErr):
					t.Errorf("err = %q, want it to contain %q", err, wantErr)
				}
			})
		}
	}
}

// TestDecodeDuplicateAttributes pins the SDK's reading of a structured
// body that names an attribute twice: the last id wins; specversion twice
// is refused.
func TestDecodeDuplicateAttributes(t *testing.T) {
	t.Parallel()
	env, err := Decode(context.Background(), nil, []byte(`{"specversion":"1.0","id":"1","id":"2","source":"s","type":"t"}`))
	if err != nil || env.Event.ID() != "2" {
		t.Errorf("id twice: %v, %v; want id 2", env, err)
	}
	_, err = Decode(context.Background(), nil, []byte(`{"specversion":"1.0","specversion":"1.0","id":"1","source":"s","type":"t"}`))
	if err == nil || !strings.Contains(err.Error(), "specversion was already provided") {
		t.Errorf("specversion twice: err = %v", err)
	}
}
