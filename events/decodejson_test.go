package events

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeJSON: decodeJSON (json-iterator) accepts exactly what
// encoding/json accepts and gives the same value, unchecked and, for valid
// JSON, checked. Run: go test ./events
// -run '^$' -fuzz FuzzDecodeJSON
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"trace_name":"disableKeyRotation","user":{"name":"u","id":"1"},"record_time":1795162530333,"n":-1.5e3,"ok":true,"x":null,"a":[1,"b",{}]}`,
		`{"a":1,"a":2}`, `"\ud800"`, `"\u00e9\n\t\"\\\/"`, `[1,2,]`, `01`, `1.`, `-`, `1e`, `{"a" 1}`, `{} x`, " \t\n{}\n", `"a` + "\xff" + `"`,
		`1e400`, `-0`, `0.1E+2`, `{"\u0000":0}`, `[[[[[]]]]]`, `tru`, `nul`, `"\x01"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want any
		wantErr := json.Unmarshal(raw, &want)
		for _, checked := range []bool{false, true} {
			if checked && wantErr != nil {
				continue // checked says the JSON is valid
			}
			got, err := decodeJSON(raw, checked)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("%q (checked %v): decodeJSON error %v, encoding/json error %v", raw, checked, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q (checked %v): decodeJSON gave %#v, encoding/json %#v", raw, checked, got, want)
			}
		}
	})
}
