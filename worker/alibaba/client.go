package alibaba

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// Credentials are an AccessKey pair and an optional STS token. Their
// String method never reveals the secret parts.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	// InstanceRole, when set, takes the credentials of this RAM role of
	// the ECS instance the worker runs on, from the metadata service.
	InstanceRole string
	// RoleARN, when set, is a RAM role the worker assumes through STS
	// with the key above ("acs:ram::<account>:role/<name>"); the calls
	// then use the role's temporary credentials, renewed before expiry.
	RoleARN string
}

func (c Credentials) String() string {
	if c.AccessKeyID == "" {
		return "alibaba credentials: none"
	}
	id := c.AccessKeyID
	if len(id) > 4 {
		id = id[:4]
	}
	return "alibaba credentials: AK " + id + "****"
}

// GoString keeps %#v from printing the secret.
func (c Credentials) GoString() string { return c.String() }

// CredentialsFromEnv reads ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN.
func CredentialsFromEnv() (Credentials, bool) {
	c := Credentials{
		AccessKeyID:     os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
	return c, c.AccessKeyID != "" && c.AccessKeySecret != ""
}

// Config configures the Alibaba provider.
type Config struct {
	// Credentials serve every account when Accounts is empty.
	Credentials Credentials
	// Accounts maps an Alibaba account id to its credentials. When set,
	// an event for an account not listed fails with no_credentials.
	Accounts map[string]Credentials
	// Endpoint, when set ("http://127.0.0.1:8099"), receives every call.
	Endpoint string
	// Timeout bounds one HTTP call (default 10s).
	Timeout time.Duration
	// Limiter paces the calls (nil: no pacing).
	Limiter *action.RateLimiter
	// MetadataEndpoint is the ECS metadata service (default
	// DefaultMetadataEndpoint), for InstanceRole.
	MetadataEndpoint string
}

// newClientMu serialises ecs.NewClientWithOptions across the process: the
// SDK lazily fills a package-level endpoint map without a lock (a data
// race the race detector reports when two clients are built at once).
// It is the one package-level variable here, and it guards the SDK's.
var newClientMu sync.Mutex

// Provider builds and pools ECS clients per account and region.
type Provider struct {
	cfg    Config
	domain string // host:port of the endpoint override
	scheme string
	now    func() time.Time
	mu     sync.Mutex
	pools  map[string]*clientPool
	roles  map[string]assumed // temporary credentials by role ARN
	writes map[string]bool    // the calls the actions declare as writes
}

// New returns a provider. Missing credentials fail each call with
// no_credentials rather than here.
func New(cfg Config) *Provider {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	p := &Provider{cfg: cfg, scheme: "HTTPS", now: time.Now, pools: map[string]*clientPool{}, roles: map[string]assumed{}}
	if u, err := url.Parse(cfg.Endpoint); err == nil && u.Host != "" {
		p.domain, p.scheme = u.Host, strings.ToUpper(u.Scheme)
	}
	p.writes = action.WriteOps(p.Actions())
	return p
}

// Actions returns the Alibaba actions.
func (p *Provider) Actions() []action.Action {
	return []action.Action{&defaultKey{p: p, modify: true}, &defaultKey{p: p}}
}

// credentials returns the credentials for an account ("" for the
// default): an AccessKey pair, or an instance role.
func (p *Provider) credentials(account string) (Credentials, error) {
	return action.AccountCredentials(p.cfg.Credentials, p.cfg.Accounts, account, "Alibaba",
		func(c Credentials) bool {
			return (c.AccessKeyID != "" && c.AccessKeySecret != "") || c.InstanceRole != ""
		})
}

// client lends an ECS client for an account and region, assuming the
// account's role first when it has one. The caller releases it.
func (p *Provider) client(ctx context.Context, account, region string) (*lent, error) {
	c, err := p.credentials(account)
	if err != nil {
		return nil, err
	}
	if c.InstanceRole != "" {
		role := c.RoleARN
		if c, err = p.instanceCredentials(ctx, c.InstanceRole); err != nil {
			return nil, err
		}
		c.RoleARN = role // an instance role may in turn assume a role
	}
	if c.RoleARN != "" {
		if c, err = p.assume(ctx, c, region); err != nil {
			return nil, err
		}
	}
	key := account + "/" + region
	p.mu.Lock()
	pool, ok := p.pools[key]
	if !ok || pool.accessKey != c.AccessKeyID {
		if ok {
			pool.retire() // the credentials rotated: its clients go when they come back
		}
		pool = &clientPool{accessKey: c.AccessKeyID, limiter: p.cfg.Limiter, writes: p.writes,
			build: func() (*ecs.Client, *http.Transport, error) { return p.build(c, region) }}
		p.pools[key] = pool
	}
	p.mu.Unlock()
	return pool.get()
}

// build makes one ECS client and its transport.
func (p *Provider) build(c Credentials, region string) (*ecs.Client, *http.Transport, error) {
	var cred auth.Credential = credentials.NewAccessKeyCredential(c.AccessKeyID, c.AccessKeySecret)
	if c.SecurityToken != "" {
		cred = credentials.NewStsTokenCredential(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
	}
	// Each client has its own transport: the SDK sets the transport's
	// dialer and TLS settings on every request.
	tr := action.NewTransport()
	cfg := sdk.NewConfig().WithScheme(p.scheme).WithAutoRetry(false).WithTimeout(p.cfg.Timeout).WithHttpTransport(tr)
	newClientMu.Lock() // see newClientMu
	cl, err := ecs.NewClientWithOptions(region, cfg, cred)
	newClientMu.Unlock()
	if err != nil {
		return nil, nil, action.Errorf(action.Permanent, action.ReasonProviderError, "", "building the ECS client failed")
	}
	cl.SetConnectTimeout(p.cfg.Timeout)
	cl.SetReadTimeout(p.cfg.Timeout)
	return cl, tr, nil
}

// prepare points one request at the endpoint override, if any, and adds
// the trace-context headers of ctx.
func (p *Provider) prepare(ctx context.Context, r *requests.RpcRequest, region string) {
	r.RegionId = region
	for k, v := range action.TraceHeaders(ctx) {
		r.Headers[k] = v
	}
	if p.domain != "" {
		r.Domain, r.Scheme = p.domain, strings.ToLower(p.scheme)
	}
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{10,20}$`)
	// KeyIDPattern accepts Alibaba KMS key ids ("key-hzz62f1cb66fa42qo9hd")
	// and the UUID form older keys use.
	KeyIDPattern = regexp.MustCompile(`^(key-[a-z0-9]{8,40}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
)

func regionParam() rules.ParamSpec {
	return rules.ParamSpec{Name: "region", Type: rules.String, Required: true, Resource: true, Pattern: regionPattern,
		Doc: "Alibaba Cloud region, e.g. cn-hangzhou (the default disk key is per account and region)"}
}

func accountParam() rules.ParamSpec {
	return rules.ParamSpec{Name: "account", Type: rules.String, Pattern: accountPattern,
		Doc: "Alibaba account id whose credentials to use; empty for the default"}
}
