package huawei

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/exchange"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// Credentials are an AK/SK pair and an optional security token. Their
// String method never reveals the secret parts.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
	// Agency, when set, is an agency of the account the worker acts in
	// (a domain id, the Accounts key) that the key above may assume: calls
	// then use the agency's temporary credentials, renewed before expiry.
	Agency string
}

func (c Credentials) String() string {
	if c.AccessKey == "" {
		return "huawei credentials: none"
	}
	return "huawei credentials: AK " + redact(c.AccessKey)
}

// GoString keeps %#v from printing the secret.
func (c Credentials) GoString() string { return c.String() }

func redact(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return s[:4] + strings.Repeat("*", 4)
}

// CredentialsFromEnv reads HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and
// HUAWEICLOUD_SDK_SECURITY_TOKEN. ok is false when AK or SK is missing.
func CredentialsFromEnv() (c Credentials, ok bool) {
	c = Credentials{
		AccessKey:     os.Getenv("HUAWEICLOUD_SDK_AK"),
		SecretKey:     os.Getenv("HUAWEICLOUD_SDK_SK"),
		SecurityToken: os.Getenv("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
	}
	return c, c.AccessKey != "" && c.SecretKey != ""
}

// Config configures the Huawei provider.
type Config struct {
	// Credentials serve every account when Accounts is empty.
	Credentials Credentials
	// Accounts maps a Huawei account (domain id) to its credentials. When
	// set, an event for an account not listed fails with no_credentials.
	Accounts map[string]Credentials
	// Endpoint, when set, replaces every service endpoint, e.g.
	// "http://127.0.0.1:8099" for the simulator. It must include the scheme.
	Endpoint string
	// Timeout bounds one HTTP call (default 10s).
	Timeout time.Duration
	// Limiter paces the calls (nil: no pacing).
	Limiter *action.RateLimiter
}

// Provider builds and caches SDK clients per region and project.
type Provider struct {
	cfg      Config
	now      func() time.Time
	mu       sync.Mutex
	clients  map[string]*core.HcHttpClient
	agencies map[string]assumed // temporary credentials by domain/agency
	// transport is shared by every client, so connections to one endpoint
	// are kept and reused across services, accounts and projects.
	transport *http.Transport
	// writes are the calls the actions declare as writes: each is fenced
	// (see action.BeforeWrite).
	writes map[string]bool
}

// New returns a provider. Missing credentials are not an error here: each
// call then fails permanently with reason no_credentials.
func New(cfg Config) *Provider {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	p := &Provider{cfg: cfg, now: time.Now, clients: map[string]*core.HcHttpClient{}, agencies: map[string]assumed{},
		transport: action.NewTransport()}
	p.writes = action.WriteOps(p.Actions())
	return p
}

// Actions returns the Huawei actions backed by this provider.
func (p *Provider) Actions() []action.Action {
	return []action.Action{&EnableKeyRotation{p: p}, &DisableKey{p: p}, &CancelKeyDeletion{p: p}, &UpdateDefaultKey{p: p}}
}

func (p *Provider) endpoint(service, region string) string {
	if p.cfg.Endpoint != "" {
		return p.cfg.Endpoint
	}
	return fmt.Sprintf("https://%s.%s.myhuaweicloud.com", service, region)
}

// credentials returns the credentials for an account ("" for the default).
func (p *Provider) credentials(account string) (Credentials, error) {
	return action.AccountCredentials(p.cfg.Credentials, p.cfg.Accounts, account, "Huawei",
		func(c Credentials) bool { return c.AccessKey != "" && c.SecretKey != "" })
}

// sdkCredentials builds the SDK's AK/SK credentials scoped to a project.
func sdkCredentials(c Credentials, project string) (*basic.Credentials, error) {
	b := basic.NewCredentialsBuilder().WithAk(c.AccessKey).WithSk(c.SecretKey).WithProjectId(project)
	if c.SecurityToken != "" {
		b = b.WithSecurityToken(c.SecurityToken)
	}
	cred, err := b.SafeBuild()
	if err != nil {
		return nil, action.Errorf(action.Permanent, action.ReasonNoCredentials, "", "Huawei Cloud credentials rejected by the SDK")
	}
	return cred, nil
}

// kmsClient returns the SDK core client for KMS calls of an account,
// region and project.
func (p *Provider) kmsClient(ctx context.Context, account, region, project string) (*core.HcHttpClient, error) {
	return p.httpClient(ctx, "kms", account, region, project)
}

// invoke sends one request through the SDK core with the trace-context
// headers of ctx (the SDK signs them with the rest).
func invoke[T any](ctx context.Context, p *Provider, hc *core.HcHttpClient, op string, req any, d *def.HttpRequestDef) (*T, error) {
	headers := action.TraceHeaders(ctx)
	if err := p.cfg.Limiter.Wait(ctx, op); err != nil {
		var zero *T
		return zero, err
	}
	if p.writes[op] {
		if err := action.BeforeWrite(ctx); err != nil {
			return nil, err
		}
	}
	return action.CallOp(ctx, op, classify, func() (*T, error) {
		exg := &exchange.SdkExchange{ApiReference: &exchange.ApiReference{}, Attributes: map[string]any{}}
		r, err := hc.SyncInvokeWithExtraHeaders(req, d, exg, headers)
		if err != nil {
			return nil, err
		}
		return r.(*T), nil
	})
}

// httpClient returns the SDK core client of a service for an account,
// region and project, built once and cached. KMS and EVS share it.
func (p *Provider) httpClient(ctx context.Context, service, account, region, project string) (*core.HcHttpClient, error) {
	c, err := p.credentials(account)
	if err != nil {
		return nil, err
	}
	if c.Agency != "" {
		if c, err = p.assumeAgency(ctx, c, account, project); err != nil {
			return nil, err
		}
	}
	key := service + "/" + account + "/" + region + "/" + project + "/" + c.AccessKey
	p.mu.Lock()
	defer p.mu.Unlock()
	if hc, ok := p.clients[key]; ok {
		return hc, nil
	}
	cred, err := sdkCredentials(c, project)
	if err != nil {
		return nil, err
	}
	hc, err := core.NewHcHttpClientBuilder().WithEndpoints([]string{p.endpoint(service, region)}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(p.cfg.Timeout).WithIgnoreContentTypeForGetRequest(true).
			WithHttpTransport(p.transport).WithUserAgent(userAgent)).SafeBuild()
	if err != nil {
		return nil, action.Errorf(action.Permanent, action.ReasonProviderError, "", "building the %s client: %v", service, err)
	}
	p.clients[key] = hc
	return hc, nil
}

// userAgent is added to the SDK's User-Agent header. Without one the SDK
// builds its own from the OS, the Go version, the locale and an
// "application id": a random UUID it reads from ~/.huaweicloud/application_id,
// creating the directory and the file on the first client it builds
// (core/utils/sys_utils.go, GetEnvInfoString). With one of ours it touches
// no file, so the worker writes nothing in HOME (read-only in a container).
const userAgent = "remediator"

// Parameter patterns shared by the Huawei actions.
var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	projectPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// KeyIDPattern is the documented format of a KMS key id.
	KeyIDPattern = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`)
)

func regionParam() rules.ParamSpec {
	return rules.ParamSpec{Name: "region", Type: rules.String, Required: true, Pattern: regionPattern,
		Doc: "Huawei Cloud region, e.g. cn-north-4"}
}

var accountPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func accountParam() rules.ParamSpec {
	return rules.ParamSpec{Name: "account", Type: rules.String, Pattern: accountPattern,
		Doc: "Huawei account (domain id) whose credentials to use; empty for the default"}
}

func projectParam() rules.ParamSpec {
	return rules.ParamSpec{Name: "project_id", Type: rules.String, Required: true, Pattern: projectPattern,
		Doc: "IAM project id of the region (32 hex characters)"}
}
