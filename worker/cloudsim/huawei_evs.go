package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// evsState is a project's EVS default-encryption state.
type evsState struct {
	DefaultEncryption bool   `json:"default_encryption"`
	DefaultKMSKeyID   string `json:"default_kms_key_id"` // evsServiceKey when the service key is used
}

// evsServiceKey is how EVS names its own service key.
const evsServiceKey = "evs/default"

// EVSState is a project's EVS default encryption, for assertions.
type EVSState struct {
	DefaultEncryption bool
	DefaultKMSKeyID   string
}

// EVS returns a project's EVS default-encryption state.
func (s *Simulator) EVS(project string) (EVSState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[project]
	if !ok || p.EVS == nil {
		return EVSState{}, false
	}
	return EVSState{DefaultEncryption: p.EVS.DefaultEncryption, DefaultKMSKeyID: p.EVS.DefaultKMSKeyID}, true
}

// resetEVS builds each project's EVS state from the seed; called with s.mu
// held, after the projects exist.
func (s *Simulator) resetEVS() {
	for pid, sp := range s.huawei {
		s.projects[pid].EVS = &evsState{DefaultEncryption: sp.EVS.DefaultEncryption, DefaultKMSKeyID: orDefault(sp.EVS.DefaultKMSKeyID, evsServiceKey)}
	}
}

// evsOps maps method and path suffix to the call-log name and whether it writes.
var evsOps = map[string]struct {
	op    string
	write bool
}{
	"GET status":    {"evs.get-default-encryption-status", false},
	"POST enable":   {"evs.enable-default-encryption", true},
	"POST disable":  {"evs.disable-default-encryption", true},
	"GET key":       {"evs.get-default-key", false},
	"PUT key":       {"evs.update-default-key", true},
	"PUT key/reset": {"evs.reset-default-key", true},
}

func evsError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

// serveEVS handles Huawei EVS v5 default-encryption calls:
// /v5/{project_id}/default-encryption/{status|enable|disable|key|key/reset}.
func (s *Simulator) serveEVS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", s.requestID())
	pid, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v5/"), "/default-encryption/")
	o, known := evsOps[r.Method+" "+rest]
	if !ok || !known {
		writeJSON(w, http.StatusNotFound, evsError("APIGW.0101", "The API does not exist or has not been published in the environment."))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var req struct {
		KMSKeyID string `json:"kms_key_id"`
	}
	jsonErr := error(nil)
	if len(strings.TrimSpace(string(body))) > 0 {
		jsonErr = json.Unmarshal(body, &req)
	}
	i := s.begin(Call{Op: o.op, Project: pid, Params: map[string]string{"kms_key_id": req.KMSKeyID}, Write: o.write, Trace: r.Header.Get("traceparent")})
	status, code := s.answerEVS(w, r, pid, o.op, body, req.KMSKeyID, jsonErr)
	s.end(i, status, code)
}

func (s *Simulator) answerEVS(w http.ResponseWriter, r *http.Request, pid, op string, body []byte, keyID string, jsonErr error) (int, string) {
	fail := func(status int, code, msg string) (int, string) {
		writeJSON(w, status, evsError(code, msg))
		return status, code
	}
	if err := s.verifyHuawei(r, body); err != nil {
		return fail(http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+err.Error())
	}
	if hp := r.Header.Get("X-Project-Id"); hp != "" && hp != pid {
		return fail(http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: X-Project-Id does not match the path")
	}
	f, delay := s.nextFault(op, pid)
	if !sleep(r, delay) {
		return 499, "client_gone"
	}
	if f != nil {
		if f.Code == throttleCode {
			writeJSON(w, f.Status, map[string]string{"error_msg": orDefault(f.Message, throttleMessage), "error_code": f.Code,
				"request_id": w.Header().Get("X-Request-Id")})
			return f.Status, f.Code
		}
		return fail(f.Status, f.Code, orDefault(f.Message, http.StatusText(f.Status)))
	}
	if jsonErr != nil {
		return fail(http.StatusBadRequest, "EVS.2000", "The request body is not valid JSON.") // chosen: no documented code
	}
	status, resp, code, msg := s.evsOperation(pid, op, keyID)
	if code != "" {
		return fail(status, code, msg)
	}
	writeJSON(w, status, resp)
	return status, ""
}

// evsOperation applies one operation under the lock. The error codes are
// chosen (the public documentation names none for these cases).
func (s *Simulator) evsOperation(pid, op, keyID string) (int, any, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[pid]
	if !ok {
		return http.StatusForbidden, nil, "APIGW.0305", "The project id is not valid for these credentials."
	}
	e := p.EVS
	switch op {
	case "evs.get-default-encryption-status":
		return http.StatusOK, map[string]any{"default_encryption": e.DefaultEncryption}, "", ""
	case "evs.enable-default-encryption", "evs.disable-default-encryption":
		e.DefaultEncryption = op == "evs.enable-default-encryption"
		return http.StatusOK, map[string]any{"default_encryption": e.DefaultEncryption}, "", ""
	case "evs.get-default-key":
		return http.StatusOK, map[string]any{"kms_key_id": e.DefaultKMSKeyID}, "", ""
	case "evs.reset-default-key":
		e.DefaultKMSKeyID = evsServiceKey
		return http.StatusOK, map[string]any{"kms_key_id": e.DefaultKMSKeyID}, "", ""
	}
	if !e.DefaultEncryption {
		return http.StatusBadRequest, nil, "EVS.2004", "EVS default encryption is not enabled."
	}
	if !keyIDPattern.MatchString(keyID) {
		return http.StatusBadRequest, nil, "EVS.2001", "Invalid kms_key_id."
	}
	k, ok := p.Keys[keyID]
	switch {
	case !ok:
		return http.StatusNotFound, nil, "EVS.2002", "The KMS key does not exist."
	case k.State != stateCodes["enabled"]:
		return http.StatusBadRequest, nil, "EVS.2003", "The KMS key is not enabled."
	}
	e.DefaultKMSKeyID = keyID
	return http.StatusOK, map[string]any{"kms_key_id": keyID}, "", ""
}
