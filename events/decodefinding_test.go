package events

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// decodeThenNormalize is what callers wrote before DecodeFinding: the
// two calls, one after the other.
func decodeThenNormalize(header map[string][]string, body []byte, n Normalizer) (*Envelope, *Finding, error) {
	env, err := Decode(context.Background(), header, body)
	if err != nil {
		return nil, nil, err
	}
	f, err := n.Normalize(env)
	return env, f, err
}

// TestDecodeFindingFixtures: every fixture, structured and converted to
// binary mode, gives through DecodeFinding the finding the two calls give,
// and the same in both modes.
func TestDecodeFindingFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	n := Normalizer{SelfPrincipals: []string{"209876543210987654"}} // 10's actor: Self is read too
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			bh, bbody, err := ToBinary(body)
			if err != nil {
				t.Fatal(err)
			}
			var found []*Finding
			for _, c := range []struct {
				mode   Mode
				header map[string][]string
				body   []byte
			}{{Structured, StructuredHeader(), body}, {Binary, bh, bbody}} {
				_, want, err := decodeThenNormalize(c.header, c.body, n)
				if err != nil || want == nil {
					t.Fatalf("%s: decode and normalise: %+v, %v", c.mode, want, err)
				}
				env, err := DecodeFinding(context.Background(), c.header, c.body, n)
				if err != nil {
					t.Fatalf("%s: %v", c.mode, err)
				}
				if env.Mode != c.mode || !reflect.DeepEqual(env.Finding, want) {
					t.Errorf("%s: mode %s finding %+v\nwant %+v", c.mode, env.Mode, env.Finding, want)
				}
				found = append(found, env.Finding)
			}
			if strings.HasPrefix(filepath.Base(file), "10-") && !found[0].Self {
				t.Error("the change of a principal of the normaliser's is not marked self")
			}
			if !reflect.DeepEqual(found[0], found[1]) {
				t.Errorf("binary finding %+v\nstructured %+v", found[1], found[0])
			}
		})
	}
}

// TestDecodeFindingFailures: a body that does not decode, an event whose
// form does not read and an event of no known form give what the two
// calls give, errors word for word.
func TestDecodeFindingFailures(t *testing.T) {
	t.Parallel()
	ce := StructuredHeader()
	event := func(typ, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"1","source":"HC.KMS","type":"` + typ + `","data":` + data + `}`)
	}
	cases := []struct {
		name    string
		header  map[string][]string
		body    []byte
		decodes bool // the envelope comes back (with the error, if any)
		invalid bool
	}{
		{"not JSON", ce, []byte(`{"specversion":"1.0","id":"x"`), false, true},
		{"not a CloudEvent", ce, []byte(`{"specversion":"1.0","id":"x","type":"t"}`), false, true},
		{"neither mode", nil, []byte(`hello`), false, true},
		{"binary bad JSON data", map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}, "content-type": {"application/json"}}, []byte(`{"a":`), false, true},
		{"a known form without its region", ce, event("KMS:CloudTrace:ApiCall", `{"trace_name":"disableKeyRotation","project_id":"p"}`), true, true},
		{"a finding of no provider", ce, event("remediator.finding.kms.key_rotation_disabled", `{"region":"r"}`), true, true},
		{"no known form", ce, event("com.example.other", `{}`), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantEnv, wantF, wantErr := decodeThenNormalize(tc.header, tc.body, Normalizer{})
			env, err := DecodeFinding(context.Background(), tc.header, tc.body, Normalizer{})
			var inv *InvalidError
			if tc.invalid != errors.As(err, &inv) || (env != nil) != tc.decodes {
				t.Fatalf("envelope %v, err %v; want an envelope %v, an *InvalidError %v", env != nil, err, tc.decodes, tc.invalid)
			}
			if (wantErr == nil) != (err == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Errorf("err %v\nwant %v", err, wantErr)
			}
			if env == nil {
				return
			}
			if env.Finding != nil || wantF != nil || env.Event.ID() != wantEnv.Event.ID() || env.Event.Type() != wantEnv.Event.Type() {
				t.Errorf("envelope %s %s finding %+v, want %s %s and no finding", env.Event.ID(), env.Event.Type(), env.Finding, wantEnv.Event.ID(), wantEnv.Event.Type())
			}
		})
	}
}
