package cloudsim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestSeedFiles(t *testing.T) {
	t.Parallel()
	s, err := LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Huawei.Projects[testProject].KMSKeys); n != 8 {
		t.Errorf("demo seed has %d keys, want 8", n)
	}
	_, err = LoadSeed("../../testdata/cloudsim/invalid_unknown_key.yaml")
	if err == nil || !strings.Contains(err.Error(), "line 7: field rotaton not found") {
		t.Errorf("err = %v, want the unknown field and its line", err)
	}
}

func TestSeedValidation(t *testing.T) {
	t.Parallel()
	src := `
credentials: [{access_key: AK}]
huawei:
  projects:
    nothex:
      kms_keys:
        - {id: bad, state: happy, origin: cloud}
        - {id: bad}
`
	_, err := ParseSeed([]byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"access_key and secret_key are required", `"nothex" is not a project id`,
		"region is required", "id does not match", `unknown state "happy"`, "origin must be kms or external", "duplicate key id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestServerAndAdmin(t *testing.T) {
	t.Parallel()
	seed, err := ParseSeed([]byte(testSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim := New(seed)
	srv, err := Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close(context.Background()) }()
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", srv.URL())
	}
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := do("POST", "/_sim/faults", `{"op":"kms.enable-key-rotation","count":1,"status":429,"code":"APIGW.0308"}`); r.StatusCode != 204 {
		t.Fatalf("faults: %d", r.StatusCode)
	}
	f := fixture{sim: sim, kms: client(t, srv.URL(), DemoAccessKey, DemoSecretKey, testProject)}
	wantCode(t, f.enable(keyOff), 429, "APIGW.0308")
	var calls []Call
	if err := json.NewDecoder(do("GET", "/_sim/calls", "").Body).Decode(&calls); err != nil || len(calls) != 1 || calls[0].Status != 429 {
		t.Fatalf("calls %+v err %v", calls, err)
	}
	if err := f.enable(keyOff); err != nil {
		t.Fatal(err)
	}
	var state struct {
		Huawei struct {
			Projects map[string]struct {
				Keys map[string]Key `json:"kms_keys"`
			} `json:"projects"`
		} `json:"huawei"`
	}
	if err := json.NewDecoder(do("GET", "/_sim/state", "").Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	if !state.Huawei.Projects[testProject].Keys[keyOff].Rotation {
		t.Error("state endpoint does not show the rotation change")
	}
	if r := do("PUT", "/_sim/chaos", `{"latency":1000000}`); r.StatusCode != 204 {
		t.Errorf("chaos: %d", r.StatusCode)
	}
	if r := do("POST", "/_sim/reset", ""); r.StatusCode != 204 {
		t.Fatalf("reset: %d", r.StatusCode)
	}
	if k, _ := sim.Key(testProject, keyOff); k.Rotation || len(sim.Calls()) != 0 {
		t.Error("reset did not restore the seed and clear the call log")
	}
	if r := do("POST", "/_sim/faults", `{"op":""}`); r.StatusCode != 400 {
		t.Errorf("bad fault accepted: %d", r.StatusCode)
	}
}
