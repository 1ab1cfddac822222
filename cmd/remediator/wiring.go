package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/huawei"
)

// defaultDataDir is the per-user state directory for the embedded server:
// $XDG_STATE_HOME/remediator, else ~/.local/state/remediator.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "remediator")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "remediator")
	}
	return filepath.Join(os.TempDir(), "remediator")
}

// natsConn is a connection and, when no server was named, the embedded
// server behind it.
type natsConn struct {
	nc     *nats.Conn
	closed chan struct{}
	js     jetstream.JetStream
	srv    *embedded.Server
	// dial opens another connection to the same server with the same
	// options; records is the one openRecords made, if any.
	dial    func(name string, opts ...nats.Option) (*nats.Conn, error)
	records *nats.Conn
	// server is the address as it may be logged (no credentials); log
	// receives the connections' events.
	server string
	log    *zap.Logger
}

// connect dials url, or starts an embedded server when url is empty.
func connect(url, dataDir, listen string, log *zap.Logger, extra ...nats.Option) (*natsConn, error) {
	c, err := newNATSConn(url, dataDir, listen, log, extra...)
	if err != nil {
		return nil, err
	}
	if err := c.open(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// newNATSConn prepares a connection to url (and starts the embedded
// server when url is empty) without dialling it: open does.
func newNATSConn(url, dataDir, listen string, log *zap.Logger, extra ...nats.Option) (*natsConn, error) {
	c := &natsConn{closed: make(chan struct{}), server: redactURL(url), log: log}
	if url == "" {
		store := filepath.Join(dataDir, "jetstream")
		if err := os.MkdirAll(store, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		srv, err := embedded.Start(embedded.Options{StoreDir: store, Listen: listen, SyncAlways: true, Logger: log})
		if err != nil {
			return nil, explainEmbedded(err, dataDir)
		}
		c.srv, c.server = srv, "embedded"
		log.Info("embedded_nats_started", zap.String("data_dir", dataDir), zap.String("client_url", c.srv.ClientURL()),
			zap.String("note", "no --nats-url or NATS_URL given: running an embedded JetStream server"))
	}
	c.dial = func(name string, opts ...nats.Option) (*nats.Conn, error) {
		all := append(natsOptions(log, name, c.server, nil), extra...)
		if c.srv != nil {
			return c.srv.Connect(append(all, opts...)...)
		}
		rec := &dialRecorder{Dialer: net.Dialer{Timeout: nats.GetDefaultOptions().Timeout}}
		nc, err := nats.Connect(url, append(append(all, nats.SetCustomDialer(rec)), opts...)...)
		return nc, rec.explain(err)
	}
	return c, nil
}

// explainEmbedded adds to an embedded server's start error what to do,
// in terms of run's flags.
func explainEmbedded(err error, dataDir string) error {
	var inUse *embedded.InUseError
	var listen *embedded.ListenError
	switch {
	case errors.As(err, &inUse):
		holder := "another process"
		if inUse.PID > 0 {
			holder = fmt.Sprintf("process %d", inUse.PID)
		}
		return fmt.Errorf("data dir %s is in use by %s (another remediator run; lock file %s): stop it, or pass another --data-dir", dataDir, holder, inUse.Lock)
	case errors.As(err, &listen) && errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w; another run or nats-server holds it: stop it, or pass --embedded-listen ADDR (empty: in-process only)", err)
	case errors.As(err, &listen):
		return fmt.Errorf("%w: pass another --embedded-listen ADDR (empty: in-process only)", err)
	}
	return err
}

// open dials the main connection. It closes c.closed when that
// connection is closed, which close waits for after a drain.
func (c *natsConn) open() error {
	// The options again, with the closed hook: of two closed handlers
	// the last one given is kept.
	closed := make(chan struct{}) // one per attempt: a failed one may close its own
	nc, err := c.dial("remediator", natsOptions(c.log, "remediator", c.server, func() { close(closed) })...)
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	c.nc, c.js, c.closed = nc, js, closed
	return nil
}

// openRecords opens a second connection for the worker's records (audit
// events), so that their publishes, each waiting for the stream's ack,
// share no socket, read loop or flusher with the pulls and acks (the
// figures are in README, Performance).
func (c *natsConn) openRecords() (jetstream.JetStream, error) {
	nc, err := c.dial("remediator-records")
	if err != nil {
		return nil, fmt.Errorf("connect to NATS (records): %w", err)
	}
	c.records = nc
	return jetstream.New(nc)
}

// connected reports whether every open connection is connected.
func (c *natsConn) connected() bool {
	return c.nc != nil && c.nc.IsConnected() && (c.records == nil || c.records.IsConnected())
}

// close drains the connections and stops the embedded server, if any.
func (c *natsConn) close() {
	if c.records != nil {
		c.records.Close() // called once the worker has stopped: its publishes are synchronous, none is left in flight
	}
	if c.nc != nil {
		if err := c.nc.Drain(); err == nil {
			select {
			case <-c.closed:
			case <-time.After(10 * time.Second):
			}
		}
		c.nc.Close()
	}
	if c.srv != nil {
		c.srv.Shutdown()
	}
}

// providerConfig says where provider calls go and with which credentials.
type providerConfig struct {
	cloudEndpoint string
	accountsPath  string        // --accounts file, "" for the environment only
	rates         action.Rates  // nil: no pacing
	timeout       time.Duration // one cloud call's timeout; 0: the providers' default
}

// paceRates are the rates run paces cloud calls at: the providers'
// documented rates unless pacing is off, with the --rate entries over
// them.
func paceRates(pacing bool, flags []string) (action.Rates, error) {
	rates := action.Rates{}
	if pacing {
		rates = huawei.DocumentedRates().Merge(alibaba.DocumentedRates())
	}
	for _, f := range flags {
		key, r, err := action.ParseRate(f)
		if err != nil {
			return nil, err
		}
		rates[key] = r
	}
	return rates, nil
}

// buildActions builds every provider's actions. Credentials come from the
// --accounts file, else the providers' standard environment variables.
// With a cloud endpoint and no credentials at all, the simulator's demo
// credentials are used, so `run --cloud-endpoint` works against
// `remediator cloudsim`.
func buildActions(pc providerConfig, log *zap.Logger) (*action.Registry, error) {
	p, err := buildProviders(pc, log)
	if err != nil {
		return nil, err
	}
	return p.actions, nil
}

// providers are the cloud providers built from a providerConfig, their
// actions, and the accounts the --accounts file names.
type providers struct {
	huawei   *huawei.Provider
	alibaba  *alibaba.Provider
	actions  *action.Registry
	accounts accountsFile
}

func buildProviders(pc providerConfig, log *zap.Logger) (providers, error) {
	var af accountsFile
	if pc.accountsPath != "" {
		var err error
		if af, err = loadAccounts(pc.accountsPath); err != nil {
			return providers{}, fmt.Errorf("accounts: %w", err)
		}
	}
	hcfg, err := huaweiConfig(af.Huawei, pc, log)
	if err != nil {
		return providers{}, fmt.Errorf("accounts: %w", err)
	}
	acfg, err := alibabaConfig(af.Alibaba, pc, log)
	if err != nil {
		return providers{}, fmt.Errorf("accounts: %w", err)
	}
	if len(pc.rates) > 0 {
		lim := action.NewRateLimiter(pc.rates)
		hcfg.Limiter, acfg.Limiter = lim, lim
	}
	p := providers{huawei: huawei.New(hcfg), alibaba: alibaba.New(acfg), accounts: af}
	p.actions, err = action.NewRegistry(append(p.huawei.Actions(), p.alibaba.Actions()...)...)
	return p, err
}

func alibabaConfig(pa providerAccounts, pc providerConfig, log *zap.Logger) (alibaba.Config, error) {
	cfg := alibaba.Config{Endpoint: pc.cloudEndpoint, MetadataEndpoint: pc.cloudEndpoint, Timeout: pc.timeout}
	def, accts, err := pa.resolveAll("alibaba")
	if err != nil {
		return cfg, err
	}
	if len(accts) > 0 {
		cfg.Accounts = map[string]alibaba.Credentials{}
		for id, s := range accts {
			cfg.Accounts[id] = alibaba.Credentials{AccessKeyID: s.ak, AccessKeySecret: s.sk, SecurityToken: s.token, RoleARN: s.role, InstanceRole: s.instanceRole}
		}
	}
	env, envOK := alibaba.CredentialsFromEnv()
	switch {
	case def != nil:
		cfg.Credentials = alibaba.Credentials{AccessKeyID: def.ak, AccessKeySecret: def.sk, SecurityToken: def.token, RoleARN: def.role, InstanceRole: def.instanceRole}
	case envOK:
		cfg.Credentials = env
	case os.Getenv("ALIBABA_CLOUD_ECS_METADATA") != "": // the SDK's variable naming the instance's RAM role
		cfg.Credentials = alibaba.Credentials{InstanceRole: os.Getenv("ALIBABA_CLOUD_ECS_METADATA")}
	case len(accts) == 0 && pc.cloudEndpoint != "":
		cfg.Credentials = alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: cloudsim.DemoSecretKey}
		log.Info("using_simulator_credentials", zap.String("provider", "alibaba"), zap.String("endpoint", pc.cloudEndpoint))
	case len(accts) == 0:
		log.Warn("no_credentials", zap.String("provider", "alibaba"),
			zap.String("note", "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET or use --accounts; Alibaba actions will dead-letter with no_credentials"))
	}
	return cfg, nil
}

func huaweiConfig(pa providerAccounts, pc providerConfig, log *zap.Logger) (huawei.Config, error) {
	cfg := huawei.Config{Endpoint: pc.cloudEndpoint, Timeout: pc.timeout}
	def, accts, err := pa.resolveAll("huawei")
	if err != nil {
		return cfg, err
	}
	if len(accts) > 0 {
		cfg.Accounts = map[string]huawei.Credentials{}
		for id, s := range accts {
			cfg.Accounts[id] = huaweiCreds(s)
		}
	}
	env, envOK := huawei.CredentialsFromEnv()
	switch {
	case def != nil:
		cfg.Credentials = huaweiCreds(*def)
	case envOK:
		cfg.Credentials = env
	case len(accts) == 0 && pc.cloudEndpoint != "":
		cfg.Credentials = huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey}
		log.Info("using_simulator_credentials", zap.String("provider", "huawei"), zap.String("endpoint", pc.cloudEndpoint))
	case len(accts) == 0:
		log.Warn("no_credentials", zap.String("provider", "huawei"),
			zap.String("note", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK or use --accounts; Huawei actions will dead-letter with no_credentials"))
	}
	return cfg, nil
}

// loadRules loads rule files, with the built-in pack when asked or when
// no files are given.
func loadRules(reg *action.Registry, paths []string, builtin bool) (*rules.Set, error) {
	switch {
	case len(paths) == 0:
		return rules.Builtin(reg)
	case builtin:
		return rules.LoadWithBuiltin(reg, paths...)
	}
	return rules.Load(reg, paths...)
}

// startWorker builds a worker and runs it until ctx ends. Setting up the
// streams is retried while the server is unreachable or electing leaders
// (a cluster starting or losing a node), for up to a minute.
func startWorker(ctx context.Context, cfg worker.Config, d worker.Deps) (*worker.Worker, <-chan error, error) {
	var w *worker.Worker
	var err error
	for try := 1; ; try++ {
		w, err = worker.New(ctx, cfg, d)
		if err == nil || try == 30 || !transient(err) || ctx.Err() != nil {
			break
		}
		if d.Logger != nil {
			d.Logger.Warn("topology_retry", zap.Int("try", try), zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return w, done, nil
}

// transient reports errors worth retrying at start-up.
func transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrConnectionClosed)
}
