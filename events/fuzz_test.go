package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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

// FuzzNormalize: normalising any decodable event never panics, every
// failure is an *InvalidError, and DecodeFinding gives what Decode and
// Normalize give. Run: go test ./events -fuzz FuzzNormalize
func FuzzNormalize(f *testing.F) {
	for _, typ := range []string{"KMS:CloudTrace:ApiCall", "ecs:ActionTrail:ApiCall", "config:Config:NonCompliantNotification", "remediator.finding.kms.key_rotation_disabled"} {
		f.Add(typ, "HC.KMS", []byte(`{"trace_name":"disableKeyRotation","project_id":"p","region_id":"r","code":"200","user":{"name":"u"}}`))
		f.Add(typ, "acs.ecs", []byte(`{"eventName":"ModifyDiskDefaultKMSKeyId","acsRegion":"r","userIdentity":{"accountId":1},"requestParameters":"{}"}`))
		f.Add(typ, "acs.config", []byte(`{"annotation":"{\"x\":1}","accountId":12,"evaluationResultIdentifier":{"evaluationResultQualifier":{"regionId":"r"}}}`))
	}
	f.Fuzz(func(t *testing.T, typ, source string, data []byte) {
		body, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "1", "source": source, "type": typ, "data": json.RawMessage(data)})
		if err != nil {
			return // data is not JSON: Decode is fuzzed on its own
		}
		n := Normalizer{SelfPrincipals: []string{"u"}}
		env, err := Decode(context.Background(), nil, body)
		if err != nil {
			return
		}
		fd, err := n.Normalize(env)
		var inv *InvalidError
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("error %v is not an *InvalidError", err)
		}
		if fd != nil {
			_ = fd.Map()
		}
		both, berr := DecodeFinding(context.Background(), nil, body, n)
		if fmt.Sprint(berr) != fmt.Sprint(err) || both == nil || !reflect.DeepEqual(both.Finding, fd) {
			t.Fatalf("DecodeFinding: %v, %v; Decode and Normalize: %+v, %v", both, berr, fd, err)
		}
	})
}
