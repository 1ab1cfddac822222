package cloudsim

import (
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nuid"
)

// serveMetadata stands in for the ECS instance metadata service
// (100.100.100.200): PUT /latest/api/token issues a session token, and
// GET /latest/meta-data/ram/security-credentials/<role> with that token
// returns temporary credentials of the instance's RAM role, which ECS and
// STS calls then accept.
func (s *Simulator) serveMetadata(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		if r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl header", http.StatusBadRequest)
			return
		}
		tok := "md-" + nuid.Next()
		s.mu.Lock()
		s.mdTokens[tok] = true
		s.mu.Unlock()
		_, _ = w.Write([]byte(tok))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/latest/meta-data/ram/security-credentials/"):
		role := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/ram/security-credentials/")
		s.mu.Lock()
		ok := s.mdTokens[r.Header.Get("X-aliyun-ecs-metadata-token")]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "invalid metadata token", http.StatusUnauthorized)
			return
		}
		if role == "" {
			http.Error(w, "no role", http.StatusNotFound)
			return
		}
		t := tempCred{secret: nuid.Next(), token: "CAIS" + nuid.Next(), account: s.accountOf(SeedCredential{}), role: role, expires: s.now().Add(6 * time.Hour).UTC()}
		ak := "STS." + nuid.Next()
		s.mu.Lock()
		s.temp[ak] = t
		s.mu.Unlock()
		i := s.begin(Call{Op: "metadata.ram-role-credentials", Params: map[string]string{"role": role}})
		writeJSON(w, http.StatusOK, map[string]string{"Code": "Success", "AccessKeyId": ak, "AccessKeySecret": t.secret,
			"SecurityToken": t.token, "Expiration": t.expires.Format(time.RFC3339), "LastUpdated": s.now().UTC().Format(time.RFC3339)})
		s.end(i, http.StatusOK, "")
	default:
		http.NotFound(w, r)
	}
}
