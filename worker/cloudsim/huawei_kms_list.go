package cloudsim

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
)

// list-keys (POST /v1.0/{project_id}/kms/list-keys, the SDK's ListKeys)
// answers a page of a project's keys:
//
//	request  {"limit":"100","marker":"200","key_state":"2","key_spec":"ALL"}
//	response {"keys":[ids],"key_details":[key_info...],"next_marker":"300","truncated":"true","total":2500}
//
// As the real API (and the SDK's model): every request field is a string;
// truncated is the string "true" or "false"; total counts every key that
// matches, not the page; key_spec left out lists AES_256 keys only and
// "ALL" lists every spec; a key_state lists only keys in that state.
//
// The marker is a position in the listing (the real API's is a number:
// "marker must be greater than or equals 0"); clients pass next_marker
// back as it came. Keys are listed in creation order, then by id. A marker
// that is not a whole number of 0 or more is an error; one past the end
// gives an empty last page. No limit lists every key at once (chosen: the
// documentation gives no default).
//
// Error codes: the documentation lists "Invalid limit." and "marker must be
// greater than or equals 0." without their codes beside them; KMS.1601 and
// KMS.1602 are inferred from the table's order (KMS.15xx is
// cancel-key-deletion). KMS.0308 "Invalid parameter." is documented.

var keyStatePattern = regexp.MustCompile(`^[1-5]$`)

// keySpecs are the key_spec values list-keys takes.
var keySpecs = map[string]bool{"AES_256": true, "SM4": true, "RSA_2048": true, "RSA_3072": true, "RSA_4096": true,
	"EC_P256": true, "EC_P384": true, "SM2": true, "ALL": true}

type listKeysRequest struct {
	Limit    string `json:"limit"`
	Marker   string `json:"marker"`
	KeyState string `json:"key_state"`
	KeySpec  string `json:"key_spec"`
	// Accepted and not modelled: the simulator has no enterprise projects.
	EnterpriseProjectID string `json:"enterprise_project_id"`
	Sequence            string `json:"sequence"`
}

// serveListKeys handles list-keys for project pid.
func (s *Simulator) serveListKeys(w http.ResponseWriter, r *http.Request, pid string, body []byte) {
	var req listKeysRequest
	jsonErr := json.Unmarshal(body, &req)
	i := s.begin(Call{Op: "kms.list-keys", Project: pid, Params: map[string]string{"limit": req.Limit, "marker": req.Marker,
		"key_state": req.KeyState, "key_spec": req.KeySpec}, Trace: r.Header.Get("traceparent")})
	status, code := s.answerListKeys(w, r, pid, body, req, jsonErr)
	s.end(i, status, code)
}

func (s *Simulator) answerListKeys(w http.ResponseWriter, r *http.Request, pid string, body []byte, req listKeysRequest, jsonErr error) (int, string) {
	fail := func(f kmsFailure) (int, string) {
		writeJSON(w, f.status, kmsError(f.code, f.msg))
		return f.status, f.code
	}
	if status, code, done := s.kmsGate(w, r, pid, "kms.list-keys", body); done {
		return status, code
	}
	if jsonErr != nil {
		return fail(kmsFailure{http.StatusBadRequest, "KMS.0101", "The request body is not valid JSON."}) // as the other KMS calls
	}
	limit, offset, f := listBounds(req)
	if f != nil {
		return fail(*f)
	}
	resp, f := s.listKeys(pid, req, limit, offset)
	if f != nil {
		return fail(*f)
	}
	writeJSON(w, http.StatusOK, resp)
	return http.StatusOK, ""
}

// listBounds checks the request's fields and returns the page size (0: no
// limit) and the position to start at.
func listBounds(req listKeysRequest) (limit, offset int, f *kmsFailure) {
	if req.Limit != "" {
		n, err := strconv.Atoi(req.Limit)
		if err != nil || n < 1 {
			return 0, 0, &kmsFailure{http.StatusBadRequest, "KMS.1601", "Invalid limit."}
		}
		limit = n
	}
	if req.Marker != "" {
		n, err := strconv.Atoi(req.Marker)
		if err != nil || n < 0 {
			return 0, 0, &kmsFailure{http.StatusBadRequest, "KMS.1602", "marker must be greater than or equals 0."}
		}
		offset = n
	}
	if req.KeyState != "" && !keyStatePattern.MatchString(req.KeyState) {
		return 0, 0, &kmsFailure{http.StatusBadRequest, "KMS.0308", "Invalid parameter: key_state."}
	}
	if req.KeySpec != "" && !keySpecs[req.KeySpec] {
		return 0, 0, &kmsFailure{http.StatusBadRequest, "KMS.0308", "Invalid parameter: key_spec."}
	}
	return limit, offset, nil
}

// listKeys builds one page under the lock.
func (s *Simulator) listKeys(pid string, req listKeysRequest, limit, offset int) (map[string]any, *kmsFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[pid]
	if !ok {
		return nil, &kmsFailure{http.StatusForbidden, "APIGW.0305", "The project id is not valid for these credentials."}
	}
	spec := orDefault(req.KeySpec, "AES_256")
	var match []*Key
	for _, k := range p.Keys {
		if (spec == "ALL" || k.Spec == spec) && (req.KeyState == "" || k.State == req.KeyState) {
			match = append(match, k)
		}
	}
	slices.SortFunc(match, byCreation)
	page := match[min(offset, len(match)):]
	if limit > 0 && len(page) > limit {
		page = page[:limit]
	}
	ids := make([]string, len(page))
	details := make([]map[string]string, len(page))
	for i, k := range page {
		ids[i], details[i] = k.ID, keyInfo(k, pid, p.Region)
	}
	end := min(offset, len(match)) + len(page)
	truncated, next := "false", ""
	if end < len(match) {
		truncated, next = "true", strconv.Itoa(end)
	}
	return map[string]any{"keys": ids, "key_details": details, "next_marker": next, "truncated": truncated,
		"total": len(match)}, nil
}

// byCreation orders keys as list-keys lists them: by creation, then id.
func byCreation(a, b *Key) int { return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID)) }

// KeyIDs lists a project's KMS key ids in the order list-keys gives them
// (every spec and state), for assertions.
func (s *Simulator) KeyIDs(project string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[project]
	if !ok {
		return nil
	}
	keys := slices.Collect(maps.Values(p.Keys))
	slices.SortFunc(keys, byCreation)
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}
