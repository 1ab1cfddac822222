package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"
)

// natsAuth are the flags that secure the client connection: TLS,
// credentials by creds file, nkey seed file or user and password, and the
// inbox prefix. The password comes from NATS_PASSWORD, never a flag value
// in a process list.
type natsAuth struct {
	creds, nkey, user      string
	tlsCA, tlsCert, tlsKey string
	// inboxPrefix starts the subject of every reply the connections
	// receive: request replies, pull consumer deliveries, publish acks,
	// the KV watcher's deliveries. A NATS user allowed to subscribe to
	// _INBOX_worker.> only reads no other user's replies, and no other
	// user reads its own, when each runs with its own prefix.
	inboxPrefix string
	// password and token come only from a NATS context (never a flag);
	// from names where the identity came from ("" for the flags).
	password, token, from string
}

// defaultInboxPrefix is nats.go's own.
const defaultInboxPrefix = "_INBOX"

func (a *natsAuth) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed)")
	fs.StringVar(&a.nkey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&a.user, "nats-user", "", "NATS user (the password is read from NATS_PASSWORD)")
	fs.StringVar(&a.tlsCA, "nats-tls-ca", "", "CA file to verify the NATS server")
	fs.StringVar(&a.tlsCert, "nats-tls-cert", "", "client certificate file for NATS mutual TLS")
	fs.StringVar(&a.tlsKey, "nats-tls-key", "", "client key file for NATS mutual TLS")
	fs.StringVar(&a.inboxPrefix, "nats-inbox-prefix", defaultInboxPrefix,
		"subject prefix of the connection's reply inboxes: the one the NATS user may subscribe to (PREFIX.>), e.g. _INBOX_worker")
}

// options turns the flags into connection options.
func (a *natsAuth) options() ([]nats.Option, error) {
	if a == nil {
		return nil, nil
	}
	var opts []nats.Option
	n := 0
	if a.creds != "" {
		opts, n = append(opts, nats.UserCredentials(a.creds)), n+1
	}
	if a.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(a.nkey)
		if err != nil {
			what := "--nats-nkey"
			if a.from != "" {
				what = a.from + ": nkey"
			}
			return nil, fmt.Errorf("%s %s: cannot read the seed file", what, a.nkey)
		}
		opts, n = append(opts, o), n+1
	}
	if a.user != "" {
		opts, n = append(opts, nats.UserInfo(a.user, cmp.Or(a.password, os.Getenv("NATS_PASSWORD")))), n+1
	}
	if a.token != "" {
		opts, n = append(opts, nats.Token(a.token)), n+1
	}
	if n > 1 {
		return nil, errors.New("give one of --nats-creds, --nats-nkey and --nats-user")
	}
	if a.tlsCA != "" {
		opts = append(opts, nats.RootCAs(a.tlsCA))
	}
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return nil, errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	if a.tlsCert != "" {
		opts = append(opts, nats.ClientCert(a.tlsCert, a.tlsKey))
	}
	if err := checkInboxPrefix(a.inboxPrefix); err != nil {
		return nil, fmt.Errorf("--nats-inbox-prefix %q: %w", a.inboxPrefix, err)
	}
	return append(opts, nats.CustomInboxPrefix(a.inboxPrefix)), nil
}

// checkInboxPrefix accepts a literal subject: tokens separated by dots,
// none empty, none a wildcard, no white space (nats.go checks only the
// wildcards and a final dot, and a space would split the SUB line).
func checkInboxPrefix(p string) error {
	if p == "" {
		return errors.New("empty")
	}
	for _, tok := range strings.Split(p, ".") {
		switch {
		case tok == "":
			return errors.New("an empty token")
		case strings.ContainsAny(tok, "*>"):
			return errors.New("a * or > (wildcards)")
		case strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			return errors.New("white space or a control character")
		}
	}
	return nil
}
