package cloudsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nuid"
)

// tempCred is an STS credential issued by AssumeRole.
type tempCred struct {
	secret, token, account, role string
	expires                      time.Time
}

// serveAssumeRole answers STS AssumeRole (Version 2015-04-01): it checks
// the caller's signature, parses the role's account from its ARN
// (acs:ram::<account>:role/<name>), and issues temporary credentials that
// ECS calls accept with their SecurityToken.
func (s *Simulator) serveAssumeRole(w http.ResponseWriter, q url.Values) {
	rid := s.requestID()
	_, _, authErr := s.verifyAlibaba(q)
	arn := q.Get("RoleArn")
	i := s.begin(Call{Op: "sts.AssumeRole", Params: map[string]string{"RoleArn": arn}})
	fail := func(f ecsFailure) {
		writeECSError(w, rid, f)
		s.end(i, f.status, f.code)
	}
	if authErr != nil {
		fail(*authErr)
		return
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "ram" || !strings.HasPrefix(parts[4], "role/") {
		fail(ecsFailure{http.StatusBadRequest, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed."})
		return
	}
	if _, ok := s.seed.Alibaba.Accounts[parts[3]]; !ok {
		fail(ecsFailure{http.StatusNotFound, "EntityNotExist.Role", "The role not exists: " + arn + "."})
		return
	}
	t := tempCred{secret: nuid.Next(), token: "CAIS" + nuid.Next(), account: parts[3], role: arn, expires: s.now().Add(time.Hour).UTC()}
	ak := "STS." + nuid.Next()
	s.mu.Lock()
	s.temp[ak] = t
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"RequestId": rid,
		"Credentials": map[string]string{"AccessKeyId": ak, "AccessKeySecret": t.secret, "SecurityToken": t.token,
			"Expiration": t.expires.Format(time.RFC3339)},
		"AssumedRoleUser": map[string]string{"Arn": arn + "/remediator", "AssumedRoleId": fmt.Sprintf("3%017d:remediator", len(s.temp))}})
	s.end(i, http.StatusOK, "")
}

// tempCredential returns a live STS credential.
func (s *Simulator) tempCredential(ak string) (tempCred, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.temp[ak]
	if !ok || s.now().After(t.expires) {
		return tempCred{}, false
	}
	return t, true
}
