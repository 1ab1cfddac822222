package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
)

// clientFlags are the connection settings of the tool commands (dlq,
// audit, control, replay, ingest), taken as run takes its own: the flags,
// then REMEDIATOR_<FLAG>, then the keys of run's --config file. Under
// those come NATS_URL and then a nats CLI context (--context or
// NATS_CONTEXT), then the defaults.
type clientFlags struct {
	natsURL, contextName, config string
	auth                         natsAuth
	cfg                          worker.Config
	// names are the settings: the flags read from REMEDIATOR_* and the
	// config file. A command's other flags (dlq redrive --dry-run, -o) are
	// not: run's REMEDIATOR_DRY_RUN must not make a redrive a dry run.
	names []string
	// from says where each setting came from, for errors.
	from map[string]string
	// url is the server resolve chose, urlFrom where it came from.
	url, urlFrom string
}

const defaultClientURL = "nats://127.0.0.1:4222"

// register adds the connection flags to fs, and the stream-name flags
// named (stream, subject, consumer, dlq-stream, dlq-subject,
// audit-stream), each bound to its field of c.cfg.
func (c *clientFlags) register(fs *pflag.FlagSet, names ...string) {
	c.cfg = worker.DefaultConfig()
	fs.StringVar(&c.natsURL, "nats-url", "", "NATS server URL (default: NATS_URL, else the --context's, else "+defaultClientURL+")")
	fs.StringVar(&c.contextName, "context", "", "nats CLI context (env NATS_CONTEXT): its URL, credentials, TLS files and inbox prefix, under any flag, REMEDIATOR_* variable or config key")
	fs.StringVar(&c.config, "config", "", "run's YAML configuration file: its connection settings and stream names apply here, its other keys are ignored")
	c.auth.register(fs)
	c.names = []string{"config", "nats-url"}
	auth := pflag.NewFlagSet("", pflag.ContinueOnError)
	(&natsAuth{}).register(auth)
	auth.VisitAll(func(f *pflag.Flag) { c.names = append(c.names, f.Name) })
	for _, n := range names {
		var p *string
		var usage string
		switch n {
		case "stream":
			p, usage = &c.cfg.Stream, "intake stream"
		case "subject":
			p, usage = &c.cfg.Subject, "intake subjects"
		case "consumer":
			p, usage = &c.cfg.Consumer, "durable consumer shared by the replicas"
		case "dlq-stream":
			p, usage = &c.cfg.DLQStream, "dead-letter stream"
		case "dlq-subject":
			p, usage = &c.cfg.DLQSubject, "dead-letter subject prefix"
		case "audit-stream":
			p, usage = &c.cfg.AuditStream, "audit stream"
		default:
			panic("clientFlags.register: no setting " + n)
		}
		fs.StringVar(p, n, *p, usage)
		c.names = append(c.names, n)
	}
}

// resolve applies REMEDIATOR_*, the config file and the context to the
// settings not given as flags, and chooses the URL.
func (c *clientFlags) resolve(cmd *cobra.Command) error {
	fs := cmd.Flags()
	c.from = map[string]string{}
	var errs []error
	for _, n := range c.names {
		f := fs.Lookup(n)
		switch {
		case f == nil:
		case f.Changed:
			c.from[n] = "--" + n
		default:
			if v, ok := os.LookupEnv(envName(n)); ok {
				if err := fs.Set(n, v); err != nil {
					errs = append(errs, fmt.Errorf("%s: %v", envName(n), err))
				}
				c.from[n] = envName(n)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.config != "" {
		if err := c.applyConfig(fs); err != nil {
			return err
		}
	}
	ctx, err := c.applyContext(fs)
	if err != nil {
		return err
	}
	switch {
	case c.natsURL != "":
		c.url, c.urlFrom = c.natsURL, cmp.Or(c.from["nats-url"], "--nats-url")
	case os.Getenv("NATS_URL") != "":
		c.url, c.urlFrom = os.Getenv("NATS_URL"), "NATS_URL"
	case ctx != nil && ctx.URL != "":
		c.url, c.urlFrom = ctx.URL, "context "+ctx.Name
	default:
		c.url, c.urlFrom = defaultClientURL, "the default"
	}
	return nil
}

// applyConfig sets the settings still unset from the config file. The
// file is run's: a key run does not know is an error, a key of run's this
// command does not use is ignored.
func (c *clientFlags) applyConfig(fs *pflag.FlagSet) error {
	entries, err := readConfigFile(c.config)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	runFlags := newRunCmd(io.Discard).Flags()
	var errs []error
	for _, e := range entries {
		name := strings.ReplaceAll(e.key, "_", "-")
		if runFlags.Lookup(name) == nil || name == "config" {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: unknown option (`remediator config options` lists them)", c.config, e.line, e.col, e.key))
			continue
		}
		f := fs.Lookup(name)
		if f == nil || f.Changed || !c.isSetting(name) {
			continue
		}
		err := e.err
		if err == nil {
			err = fs.Set(name, e.value)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: %v", c.config, e.vline, e.vcol, e.key, err))
			continue
		}
		c.from[name] = fmt.Sprintf("%s in %s:%d", e.key, c.config, e.line)
	}
	return errors.Join(errs...)
}

func (c *clientFlags) isSetting(name string) bool {
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

// applyContext reads the context named by --context or NATS_CONTEXT, if
// any, and takes from it what no setting gave: the identity as a whole
// (never a context's password with a flag's user), the TLS files and the
// inbox prefix. The URL is resolve's.
func (c *clientFlags) applyContext(fs *pflag.FlagSet) (*natsContext, error) {
	name := cmp.Or(c.contextName, os.Getenv("NATS_CONTEXT"))
	if name == "" {
		return nil, nil
	}
	ctx, err := loadNATSContext(name)
	if err != nil {
		return nil, err
	}
	set := func(names ...string) bool {
		for _, n := range names {
			if f := fs.Lookup(n); f != nil && f.Changed {
				return true
			}
		}
		return false
	}
	a := &c.auth
	if !set("nats-creds", "nats-nkey", "nats-user") {
		a.creds, a.nkey, a.user, a.password, a.token = ctx.Creds, ctx.NKey, ctx.User, ctx.Password, ctx.Token
		a.from = "context " + name
	}
	if !set("nats-tls-ca") && ctx.CA != "" {
		a.tlsCA = ctx.CA
	}
	if !set("nats-tls-cert", "nats-tls-key") && ctx.Cert != "" {
		a.tlsCert, a.tlsKey = ctx.Cert, ctx.Key
	}
	if !set("nats-inbox-prefix") && ctx.Inbox != "" {
		a.inboxPrefix = ctx.Inbox
	}
	return ctx, nil
}

// withConn resolves the settings, connects and runs f on the connection,
// its events logged through log.
func (c *clientFlags) withConn(cmd *cobra.Command, log *zap.Logger, f func(*natsConn) error) error {
	if err := c.resolve(cmd); err != nil {
		return err
	}
	opts, err := c.auth.options()
	if err != nil {
		return err
	}
	conn, err := connect(c.url, "", "", log, opts...)
	if err != nil {
		return c.connectError(err)
	}
	defer conn.close()
	return f(conn)
}

// clientError is an error as the user reads it, keeping its cause for
// errors.Is.
type clientError struct {
	msg string
	err error
}

func (e *clientError) Error() string { return e.msg }
func (e *clientError) Unwrap() error { return e.err }

// connectError says which server was tried, where that came from, what
// went wrong and what to do, without a credential.
func (c *clientFlags) connectError(err error) error {
	cause := err
	if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), "connect to NATS") {
		cause = u // wiring.go's "connect to NATS: " says less than what follows
	}
	where := fmt.Sprintf("connect to %s (%s)", redactURL(c.url), c.urlFrom)
	var msg string
	switch {
	case errors.Is(cause, nats.ErrNoServers):
		why := strings.TrimPrefix(cause.Error(), nats.ErrNoServers.Error())
		msg = fmt.Sprintf("%s: no server answered%s; is nats-server running there? Name the server with --nats-url, NATS_URL or --context", where, why)
	case errors.Is(cause, nats.ErrAuthorization), errors.Is(cause, nats.ErrAuthExpired), errors.Is(cause, nats.ErrAuthRevoked):
		msg = fmt.Sprintf("%s: the server refused %s (%v); check --nats-user and NATS_PASSWORD, --nats-creds, --nats-nkey or the context", where, c.identity(), cause)
	default:
		msg = fmt.Sprintf("%s: %v", where, cause)
	}
	return &clientError{msg: c.scrub(msg), err: cause}
}

// identity names the credentials tried, never their secret part.
func (c *clientFlags) identity() string {
	a := c.auth
	from := func(flag string) string { return cmp.Or(a.from, cmp.Or(c.from[flag], "--"+flag)) }
	switch {
	case a.creds != "":
		return fmt.Sprintf("the credentials file %s (%s)", a.creds, from("nats-creds"))
	case a.nkey != "":
		return fmt.Sprintf("the nkey seed file %s (%s)", a.nkey, from("nats-nkey"))
	case a.user != "":
		return fmt.Sprintf("user %q (%s)", a.user, from("nats-user"))
	case a.token != "":
		return fmt.Sprintf("the token (%s)", a.from)
	}
	return "a connection without credentials"
}

// scrub takes out of msg any user name, password or token the URL or
// the context holds, in case a library quoted them.
func (c *clientFlags) scrub(msg string) string {
	var secrets []string
	for _, p := range strings.Split(c.url, ",") {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			pw, _ := u.User.Password()
			secrets = append(secrets, u.User.String(), u.User.Username(), pw)
		} else if i := strings.LastIndex(p, "@"); i >= 0 {
			secrets = append(secrets, strings.TrimPrefix(strings.TrimPrefix(p[:i], "nats://"), "tls://"))
		}
	}
	secrets = append(secrets, c.auth.password, c.auth.token)
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, "REDACTED")
		}
	}
	return msg
}

// missing explains a stream, consumer or KV bucket the server does not
// have: err, if it says so, becomes what to do about it.
func (c *clientFlags) missing(err error, what, name, flag string) error {
	if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return err
	}
	msg := fmt.Sprintf("no %s %s on %s: no worker has run against this server yet (`remediator run` creates it at start-up)", what, name, redactURL(c.url))
	if flag != "" {
		msg = fmt.Sprintf("no %s %s on %s: either no worker has run against this server yet (`remediator run` creates it at start-up), or %s (from %s) names the wrong one",
			what, name, redactURL(c.url), flag, cmp.Or(c.from[strings.TrimPrefix(flag, "--")], "the default"))
	}
	return &clientError{err: err, msg: msg}
}
