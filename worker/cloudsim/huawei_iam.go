package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nuid"
)

// serveSecurityTokens answers IAM POST /v3.0/OS-CREDENTIAL/securitytokens
// with method assume_role: the signed caller gets temporary credentials of
// the agency, which KMS and EVS then accept with their X-Security-Token.
func (s *Simulator) serveSecurityTokens(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", s.requestID())
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var req struct {
		Auth struct {
			Identity struct {
				Methods    []string `json:"methods"`
				AssumeRole struct {
					AgencyName      string `json:"agency_name"`
					DomainID        string `json:"domain_id"`
					DurationSeconds int    `json:"duration_seconds"`
				} `json:"assume_role"`
			} `json:"identity"`
		} `json:"auth"`
	}
	err := json.Unmarshal(body, &req)
	ar := req.Auth.Identity.AssumeRole
	i := s.begin(Call{Op: "iam.create-temporary-access-key-by-agency", Params: map[string]string{"agency_name": ar.AgencyName, "domain_id": ar.DomainID}})
	fail := func(status int, code, msg string) {
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		s.end(i, status, code)
	}
	if verr := s.verifyHuawei(r, body); verr != nil {
		fail(http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+verr.Error())
		return
	}
	if err != nil || len(req.Auth.Identity.Methods) != 1 || req.Auth.Identity.Methods[0] != "assume_role" || ar.AgencyName == "" ||
		!projectPattern.MatchString(ar.DomainID) {
		fail(http.StatusBadRequest, "IAM.0011", "Request parameter error.") // chosen
		return
	}
	t := tempCred{secret: nuid.Next(), token: "gQpjbi1" + nuid.Next(), account: ar.DomainID, role: ar.AgencyName,
		expires: s.now().Add(time.Hour).UTC()}
	ak := "TEMPAK" + nuid.Next()
	s.mu.Lock()
	s.temp[ak] = t
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"credential": map[string]string{"access": ak, "secret": t.secret,
		"securitytoken": t.token, "expires_at": t.expires.Format("2006-01-02T15:04:05.000000Z")}})
	s.end(i, http.StatusCreated, "")
}
