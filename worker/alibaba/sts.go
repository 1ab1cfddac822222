package alibaba

import (
	"context"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/remediator/remediator/worker/action"
)

// assumed is a role's temporary credentials and when they expire.
type assumed struct {
	creds   Credentials
	expires time.Time
}

// roleSession is the session name in the role's ActionTrail records, so
// the worker's own changes can be recognised (--self-principal).
const roleSession = "remediator"

// renewBefore is how long before expiry temporary credentials are renewed.
const renewBefore = 5 * time.Minute

const opAssumeRole = "sts.AssumeRole"

// assume returns temporary credentials for base.RoleARN, from the cache
// while they are fresh, else from STS AssumeRole called with base.
func (p *Provider) assume(ctx context.Context, base Credentials, region string) (Credentials, error) {
	p.mu.Lock()
	a, ok := p.roles[base.RoleARN]
	p.mu.Unlock()
	if ok && p.now().Before(a.expires.Add(-renewBefore)) {
		return a.creds, nil
	}
	cfg := sdk.NewConfig().WithScheme(p.scheme).WithAutoRetry(false).WithTimeout(p.cfg.Timeout)
	newClientMu.Lock()
	var cred auth.Credential = credentials.NewAccessKeyCredential(base.AccessKeyID, base.AccessKeySecret)
	if base.SecurityToken != "" {
		cred = credentials.NewStsTokenCredential(base.AccessKeyID, base.AccessKeySecret, base.SecurityToken)
	}
	c, err := sts.NewClientWithOptions(region, cfg, cred)
	newClientMu.Unlock()
	if err != nil {
		return Credentials{}, action.Errorf(action.Permanent, action.ReasonProviderError, "", "building the STS client failed")
	}
	resp, err := action.CallOp(ctx, opAssumeRole, classify, func() (*sts.AssumeRoleResponse, error) {
		r := sts.CreateAssumeRoleRequest()
		r.RoleArn, r.RoleSessionName, r.DurationSeconds = base.RoleARN, roleSession, requests.NewInteger(3600)
		if p.domain != "" {
			r.Domain, r.Scheme = p.domain, "http"
		}
		return c.AssumeRole(r)
	})
	if err != nil {
		return Credentials{}, err
	}
	exp, err := time.Parse(time.RFC3339, resp.Credentials.Expiration)
	if err != nil {
		exp = p.now().Add(15 * time.Minute)
	}
	a = assumed{creds: Credentials{AccessKeyID: resp.Credentials.AccessKeyId, AccessKeySecret: resp.Credentials.AccessKeySecret,
		SecurityToken: resp.Credentials.SecurityToken}, expires: exp}
	p.mu.Lock()
	p.roles[base.RoleARN] = a
	p.mu.Unlock()
	return a.creds, nil
}
