package huawei

import (
	"context"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	iam "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/remediator/remediator/worker/action"
)

// assumed is an agency's temporary credentials and when they expire.
type assumed struct {
	creds   Credentials
	expires time.Time
}

// renewBefore is how long before expiry temporary credentials are renewed.
const renewBefore = 5 * time.Minute

const opAssumeAgency = "iam.create-temporary-access-key-by-agency"

// assumeAgency returns temporary credentials for the agency base.Agency
// of the account (domain id), cached while fresh, else from IAM
// (POST /v3.0/OS-CREDENTIAL/securitytokens, method assume_role).
func (p *Provider) assumeAgency(ctx context.Context, base Credentials, domain, project string) (Credentials, error) {
	key := domain + "/" + base.Agency
	p.mu.Lock()
	a, ok := p.agencies[key]
	p.mu.Unlock()
	if ok && p.now().Before(a.expires.Add(-renewBefore)) {
		return a.creds, nil
	}
	cred, err := sdkCredentials(Credentials{AccessKey: base.AccessKey, SecretKey: base.SecretKey, SecurityToken: base.SecurityToken}, project)
	if err != nil {
		return Credentials{}, err
	}
	endpoint := "https://iam.myhuaweicloud.com"
	if p.cfg.Endpoint != "" {
		endpoint = p.cfg.Endpoint
	}
	hc, err := iam.IamClientBuilder().WithEndpoints([]string{endpoint}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(p.cfg.Timeout).WithHttpTransport(p.transport).WithUserAgent(userAgent)).SafeBuild()
	if err != nil {
		return Credentials{}, action.Errorf(action.Permanent, action.ReasonProviderError, "", "building the IAM client: %v", err)
	}
	duration := int32(3600)
	body := &model.CreateTemporaryAccessKeyByAgencyRequestBody{Auth: &model.AgencyAuth{Identity: &model.AgencyAuthIdentity{
		Methods:    []model.AgencyAuthIdentityMethods{model.GetAgencyAuthIdentityMethodsEnum().ASSUME_ROLE},
		AssumeRole: &model.IdentityAssumerole{AgencyName: base.Agency, DomainId: &domain, DurationSeconds: &duration},
	}}}
	resp, err := action.CallOp(ctx, opAssumeAgency, classify, func() (*model.CreateTemporaryAccessKeyByAgencyResponse, error) {
		return iam.NewIamClient(hc).CreateTemporaryAccessKeyByAgency(&model.CreateTemporaryAccessKeyByAgencyRequest{Body: body})
	})
	if err != nil {
		return Credentials{}, err
	}
	if resp.Credential == nil {
		return Credentials{}, action.Errorf(action.Retryable, action.ReasonProviderError, "", "IAM returned no credential for agency %s", base.Agency)
	}
	exp, err := time.Parse(time.RFC3339, resp.Credential.ExpiresAt)
	if err != nil {
		exp = p.now().Add(15 * time.Minute)
	}
	a = assumed{creds: Credentials{AccessKey: resp.Credential.Access, SecretKey: resp.Credential.Secret, SecurityToken: resp.Credential.Securitytoken}, expires: exp}
	p.mu.Lock()
	p.agencies[key] = a
	p.mu.Unlock()
	return a.creds, nil
}
