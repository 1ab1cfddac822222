package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// natsContext is what the tool commands take from a context of the nats
// CLI (`nats context save`): the JSON file
// $XDG_CONFIG_HOME/nats/context/NAME.json (~/.config/nats/context/NAME.json
// without XDG_CONFIG_HOME), the format of github.com/nats-io/jsm.go's
// natscontext package, read here rather than imported because that
// package brings jsm.go and its dependencies. Only a context named with
// --context or NATS_CONTEXT is read: the one `nats context select` chose
// for the nats CLI is not followed, so that a selection made in another
// shell for other work never sends `dlq purge` somewhere else.
type natsContext struct {
	Name     string `json:"-"`
	Path     string `json:"-"`
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
	Creds    string `json:"creds"`
	NKey     string `json:"nkey"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	CA       string `json:"ca"`
	Inbox    string `json:"inbox_prefix"`

	// Settings remediator cannot honour: a context that sets one is
	// refused rather than half used.
	NSC         string `json:"nsc"`
	UserJWT     string `json:"user_jwt"`
	UserSeed    string `json:"user_seed"`
	SocksProxy  string `json:"socks_proxy"`
	JSDomain    string `json:"jetstream_domain"`
	JSAPIPrefix string `json:"jetstream_api_prefix"`
	TLSFirst    bool   `json:"tls_first"`
	WinCert     string `json:"windows_cert_store"`
}

// natsContextPath is where the nats CLI keeps the context name. A name
// ending in .json that names a file is that file, as in the nats CLI.
func natsContextPath(name string) (string, error) {
	if strings.HasSuffix(name, ".json") {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("NATS context %q: not a context name (a name as `nats context ls` lists it, or a .json file)", name)
	}
	root := os.Getenv("XDG_CONFIG_HOME")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("NATS context %q: no XDG_CONFIG_HOME and no home directory to find it in: %w", name, err)
		}
		root = filepath.Join(home, ".config")
	}
	return filepath.Join(root, "nats", "context", name+".json"), nil
}

// loadNATSContext reads the context name.
func loadNATSContext(name string) (*natsContext, error) {
	path, err := natsContextPath(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("NATS context %q: no file %s (`nats context ls` lists the contexts; XDG_CONFIG_HOME moves the directory)", name, path)
	}
	if err != nil {
		return nil, fmt.Errorf("NATS context %q: %w", name, err)
	}
	c := &natsContext{Name: name, Path: path}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("NATS context %q: %s is not a context file: %w", name, path, err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		if *p, err = c.localPath(*p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// check refuses the settings remediator does not implement, and a
// context with more than one identity.
func (c *natsContext) check() error {
	for _, u := range []struct {
		key string
		set bool
	}{
		{"nsc", c.NSC != ""}, {"user_jwt", c.UserJWT != ""}, {"user_seed", c.UserSeed != ""},
		{"socks_proxy", c.SocksProxy != ""}, {"jetstream_domain", c.JSDomain != ""},
		{"jetstream_api_prefix", c.JSAPIPrefix != ""}, {"tls_first", c.TLSFirst}, {"windows_cert_store", c.WinCert != ""},
	} {
		if u.set {
			return fmt.Errorf("NATS context %q (%s): %s is not supported by remediator; give the connection with --nats-url and the --nats-* flags instead", c.Name, c.Path, u.key)
		}
	}
	n := 0
	for _, s := range []string{c.Creds, c.NKey, c.User, c.Token} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("NATS context %q (%s): give one of creds, nkey, user and token", c.Name, c.Path)
	}
	return nil
}

// localPath expands $VARS and a leading ~ as the nats CLI does, and takes
// the file:// form of a credentials reference; other references (op://,
// nsc://, env://, data:) need resolvers remediator does not have.
func (c *natsContext) localPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(p, "file://"); ok {
		p = rest
	} else if i := strings.Index(p, "://"); i > 0 || strings.HasPrefix(p, "data:") {
		scheme, _, _ := strings.Cut(p, ":")
		return "", fmt.Errorf("NATS context %q (%s): a %s: reference is not supported by remediator; use a file path", c.Name, c.Path, scheme)
	}
	p = os.ExpandEnv(p)
	if rest, ok := strings.CutPrefix(p, "~"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + rest
		}
	}
	return p, nil
}
