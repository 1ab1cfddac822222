package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Huawei API gateway throttling, exactly as the gateway answers.
const (
	throttleCode    = "APIGW.0308"
	throttleMessage = "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"
)

// kmsOps are the KMS operations served, and whether each writes.
var kmsOps = map[string]bool{
	"get-key-rotation-status": false,
	"list-keys":               false,
	"describe-key":            false,
	"enable-key-rotation":     true,
	"disable-key-rotation":    true,
	"disable-key":             true,
	"enable-key":              true,
	"cancel-key-deletion":     true,
}

// kmsFailure is a KMS error answer.
type kmsFailure struct {
	status    int
	code, msg string
}

func kmsError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"error_code": code, "error_msg": msg}}
}

// serveKMS handles POST /v1.0/{project_id}/kms/{operation}.
func (s *Simulator) serveKMS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", s.requestID())
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1.0/"), "/")
	if len(parts) != 3 || parts[1] != "kms" {
		writeJSON(w, http.StatusNotFound, kmsError("APIGW.0101", "The API does not exist or has not been published in the environment."))
		return
	}
	pid, name := parts[0], parts[2]
	write, known := kmsOps[name]
	if !known || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, kmsError("APIGW.0101", "The API does not exist or has not been published in the environment."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, kmsError("KMS.0101", "Request body could not be read."))
		return
	}
	op := "kms." + name
	if name == "list-keys" {
		s.serveListKeys(w, r, pid, body)
		return
	}
	var req struct {
		KeyID    string `json:"key_id"`
		Sequence string `json:"sequence"`
	}
	jsonErr := json.Unmarshal(body, &req)
	i := s.begin(Call{Op: op, Project: pid, Params: map[string]string{"key_id": req.KeyID}, Write: write, Trace: r.Header.Get("traceparent")})
	status, code := s.answerKMS(w, r, pid, name, body, req.KeyID, jsonErr)
	s.end(i, status, code)
}

// kmsGate authenticates a KMS call and applies the faults, throttling
// and latency due to it. When it answered the call itself, done is true
// and status and code say how.
func (s *Simulator) kmsGate(w http.ResponseWriter, r *http.Request, pid, op string, body []byte) (status int, code string, done bool) {
	fail := func(f kmsFailure) (int, string, bool) {
		writeJSON(w, f.status, kmsError(f.code, f.msg))
		return f.status, f.code, true
	}
	if err := s.verifyHuawei(r, body); err != nil {
		return fail(kmsFailure{http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: " + err.Error()})
	}
	if hp := r.Header.Get("X-Project-Id"); hp != "" && hp != pid {
		return fail(kmsFailure{http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: X-Project-Id does not match the path"})
	}
	f, delay := s.nextFault(op, pid)
	if !sleep(r, delay) {
		return 499, "client_gone", true
	}
	if f != nil {
		if f.Code == throttleCode {
			writeJSON(w, f.Status, map[string]string{"error_msg": orDefault(f.Message, throttleMessage), "error_code": f.Code,
				"request_id": w.Header().Get("X-Request-Id")})
			return f.Status, f.Code, true
		}
		return fail(kmsFailure{f.Status, f.Code, orDefault(f.Message, http.StatusText(f.Status))})
	}
	return 0, "", false
}

// answerKMS authenticates, applies faults and runs the operation.
func (s *Simulator) answerKMS(w http.ResponseWriter, r *http.Request, pid, name string, body []byte, keyID string, jsonErr error) (int, string) {
	fail := func(f kmsFailure) (int, string) {
		writeJSON(w, f.status, kmsError(f.code, f.msg))
		return f.status, f.code
	}
	if status, code, done := s.kmsGate(w, r, pid, "kms."+name, body); done {
		return status, code
	}
	if jsonErr != nil {
		// Chosen: the documentation names no code for a malformed body.
		return fail(kmsFailure{http.StatusBadRequest, "KMS.0101", "The request body is not valid JSON."})
	}
	if !keyIDPattern.MatchString(keyID) {
		return fail(kmsFailure{http.StatusBadRequest, "KMS.0205", "Invalid key_id."})
	}
	status, resp, failure := s.kmsOperation(pid, name, keyID)
	if failure != nil {
		return fail(*failure)
	}
	writeJSON(w, status, resp)
	return status, ""
}

// kmsOperation applies one operation to the state under the lock.
func (s *Simulator) kmsOperation(pid, name, keyID string) (int, any, *kmsFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[pid]
	if !ok {
		// Chosen: an unknown project is reported as the gateway does for a
		// token scoped to another project.
		return 0, nil, &kmsFailure{http.StatusForbidden, "APIGW.0305", "The project id is not valid for these credentials."}
	}
	k, ok := p.Keys[keyID]
	if !ok {
		return 0, nil, &kmsFailure{http.StatusNotFound, "KMS.0207", "The key does not exist."}
	}
	switch name {
	case "get-key-rotation-status":
		return http.StatusOK, rotationStatus(k), nil
	case "describe-key":
		return http.StatusOK, map[string]any{"key_info": keyInfo(k, pid, p.Region)}, nil
	case "enable-key-rotation", "disable-key-rotation":
		return setRotation(k, name == "enable-key-rotation")
	case "cancel-key-deletion":
		return cancelDeletion(k)
	default:
		return setEnabled(k, name == "enable-key")
	}
}

func rotationStatus(k *Key) map[string]any {
	last := ""
	if k.Rotations > 0 {
		last = k.Created.Add(time.Duration(k.Rotations) * 24 * time.Hour).Format("2006-01-02T15:04:05Z")
	}
	return map[string]any{"key_rotation_enabled": k.Rotation, "rotation_interval": k.RotationInterval,
		"last_rotation_time": last, "number_of_rotations": k.Rotations}
}

// keyInfo is describe-key's key_info and one of list-keys' key_details.
// Flags and dates are strings, as the real API (and the SDK's model) has
// them.
func keyInfo(k *Key, pid, region string) map[string]string {
	return map[string]string{
		"key_id": k.ID, "domain_id": pid, "key_alias": k.Alias, "realm": region, "key_description": "",
		"creation_date": strconv.FormatInt(k.Created.UnixMilli(), 10), "scheduled_deletion_date": "",
		"key_state": k.State, "default_key_flag": flag(k.Default), "key_type": "1", "expiration_time": "",
		"origin": k.Origin, "key_rotation_enabled": strconv.FormatBool(k.Rotation), "key_spec": k.Spec,
	}
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func setRotation(k *Key, on bool) (int, any, *kmsFailure) {
	switch {
	case k.Default:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0211", "Default keys do not support this operation."}
	case k.State == stateCodes["disabled"]:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0209", "The key is disabled."}
	case k.State == stateCodes["pending_deletion"]:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0210", "The key is pending deletion."}
	case k.Origin == "external" || !symmetric(k.Spec):
		// Chosen: the documentation says imported and asymmetric keys
		// cannot rotate but names no code; KMS.0211's family is used.
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0212", "Imported and asymmetric keys cannot be rotated."}
	case on && k.Rotation:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.2901", "The key rotation state is not disabled."}
	case !on && !k.Rotation:
		// Chosen by symmetry with KMS.2901.
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.2902", "The key rotation state is not enabled."}
	}
	k.Rotation = on
	return http.StatusOK, map[string]any{}, nil
}

func symmetric(spec string) bool {
	return spec == "AES_256" || spec == "SM4" || spec == ""
}

func setEnabled(k *Key, on bool) (int, any, *kmsFailure) {
	switch {
	case k.Default:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0211", "Default keys do not support this operation."}
	case k.State == stateCodes["pending_deletion"]:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0210", "The key is pending deletion."}
	case k.State == stateCodes["pending_import"] || k.State == stateCodes["pending_creation"]:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.0208", "The key is not in a state that allows this operation."}
	case !on && k.State == stateCodes["disabled"]:
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.1301", "The key is not enabled."}
	case on && k.State == stateCodes["enabled"]:
		// Chosen: the documentation names no code for enabling an enabled key.
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.1302", "The key is not disabled."}
	}
	if on {
		k.State = stateCodes["enabled"]
	} else {
		k.State = stateCodes["disabled"]
	}
	return http.StatusOK, map[string]any{"key_info": map[string]string{"key_id": k.ID, "key_state": k.State}}, nil
}

// cancelDeletion takes a key out of pending deletion: it becomes disabled.
// (KMS leaves an imported key that never got material pending import; the
// simulator keeps no material, so it does not model that.) The answer has
// the key's id and state at the top level, not under key_info.
func cancelDeletion(k *Key) (int, any, *kmsFailure) {
	if k.State != stateCodes["pending_deletion"] {
		return 0, nil, &kmsFailure{http.StatusBadRequest, "KMS.1501", "The key is not in the Pending deletion status."}
	}
	k.State = stateCodes["disabled"]
	return http.StatusOK, map[string]string{"key_id": k.ID, "key_state": k.State}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
