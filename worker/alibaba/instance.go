package alibaba

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/remediator/remediator/worker/action"
)

// DefaultMetadataEndpoint is the ECS instance metadata service.
const DefaultMetadataEndpoint = "http://100.100.100.200"

// instanceCredentials fetches the temporary credentials of the ECS
// instance's RAM role from the metadata service (with its session token,
// IMDSv2), cached until near expiry. The endpoint is configurable so the
// simulator can stand in for it.
func (p *Provider) instanceCredentials(ctx context.Context, role string) (Credentials, error) {
	key := "instance:" + role
	p.mu.Lock()
	a, ok := p.roles[key]
	p.mu.Unlock()
	if ok && p.now().Before(a.expires.Add(-renewBefore)) {
		return a.creds, nil
	}
	base := p.cfg.MetadataEndpoint
	if base == "" {
		base = DefaultMetadataEndpoint
	}
	fail := func(format string, args ...any) (Credentials, error) {
		return Credentials{}, action.Errorf(action.Retryable, action.ReasonNoCredentials, "", "ECS instance RAM role %s: "+format, append([]any{role}, args...)...)
	}
	client := &http.Client{Timeout: p.cfg.Timeout}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
	req.Header.Set("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
	resp, err := client.Do(req)
	if err != nil {
		return fail("the metadata service is unreachable")
	}
	token, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("metadata token: HTTP %d", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/"+role, nil)
	req.Header.Set("X-aliyun-ecs-metadata-token", strings.TrimSpace(string(token)))
	if resp, err = client.Do(req); err != nil {
		return fail("the metadata service is unreachable")
	}
	defer resp.Body.Close()
	var body struct {
		Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration string
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Code != "Success" {
		return fail("no credentials (HTTP %d, code %q)", resp.StatusCode, body.Code)
	}
	exp, err := time.Parse(time.RFC3339, body.Expiration)
	if err != nil {
		exp = p.now().Add(15 * time.Minute)
	}
	a = assumed{creds: Credentials{AccessKeyID: body.AccessKeyId, AccessKeySecret: body.AccessKeySecret, SecurityToken: body.SecurityToken}, expires: exp}
	p.mu.Lock()
	p.roles[key] = a
	p.mu.Unlock()
	return a.creds, nil
}
