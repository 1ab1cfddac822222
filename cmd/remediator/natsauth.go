package main

import (
	"errors"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"
)

// natsAuth are the flags that secure the client connection: TLS, and
// credentials by creds file, nkey seed file or user and password. The
// password comes from NATS_PASSWORD, never a flag value in a process list.
type natsAuth struct {
	creds, nkey, user      string
	tlsCA, tlsCert, tlsKey string
}

func (a *natsAuth) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed)")
	fs.StringVar(&a.nkey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&a.user, "nats-user", "", "NATS user (the password is read from NATS_PASSWORD)")
	fs.StringVar(&a.tlsCA, "nats-tls-ca", "", "CA file to verify the NATS server")
	fs.StringVar(&a.tlsCert, "nats-tls-cert", "", "client certificate file for NATS mutual TLS")
	fs.StringVar(&a.tlsKey, "nats-tls-key", "", "client key file for NATS mutual TLS")
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
			return nil, errors.New("--nats-nkey: cannot read the seed file")
		}
		opts, n = append(opts, o), n+1
	}
	if a.user != "" {
		opts, n = append(opts, nats.UserInfo(a.user, os.Getenv("NATS_PASSWORD"))), n+1
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
	return opts, nil
}
