package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/remediator/remediator/worker/huawei"
)

// accountsFile is the --accounts file: which credentials serve which cloud
// account. Secrets are named by environment variable or file, never
// written inline.
type accountsFile struct {
	Huawei  providerAccounts `yaml:"huawei"`
	Alibaba providerAccounts `yaml:"alibaba"`
}

type providerAccounts struct {
	Default  *credentialSource           `yaml:"default"`
	Accounts map[string]credentialSource `yaml:"accounts"`
}

// credentialSource says where an AK/SK pair (and an optional session
// token) is read from.
type credentialSource struct {
	AccessKeyEnv      string `yaml:"access_key_env"`
	SecretKeyEnv      string `yaml:"secret_key_env"`
	SecurityTokenEnv  string `yaml:"security_token_env"`
	AccessKeyFile     string `yaml:"access_key_file"`
	SecretKeyFile     string `yaml:"secret_key_file"`
	SecurityTokenFile string `yaml:"security_token_file"`
	// RoleARN (Alibaba): assume this RAM role through STS with the key.
	RoleARN string `yaml:"role_arn"`
	// Agency (Huawei): assume this agency of the account.
	Agency string `yaml:"agency"`
	// EcsRAMRole (Alibaba): take the credentials of this RAM role of the
	// ECS instance the worker runs on; no keys are needed then.
	EcsRAMRole string `yaml:"ecs_ram_role"`
}

type secretTriple struct{ ak, sk, token, role, agency, instanceRole string }

func loadAccounts(path string) (accountsFile, error) {
	var f accountsFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// resolve reads the secrets. Errors name the variable or file, never a value.
func (c credentialSource) resolve() (secretTriple, error) {
	read := func(env, file, what string, required bool) (string, error) {
		switch {
		case env != "" && file != "":
			return "", fmt.Errorf("%s: give %s_env or %s_file, not both", what, what, what)
		case env != "":
			v := os.Getenv(env)
			if v == "" && required {
				return "", fmt.Errorf("%s: environment variable %s is empty", what, env)
			}
			return v, nil
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("%s: %w", what, err)
			}
			return strings.TrimSpace(string(b)), nil
		case required:
			return "", fmt.Errorf("%s: %s_env or %s_file is required", what, what, what)
		}
		return "", nil
	}
	s := secretTriple{role: c.RoleARN, agency: c.Agency, instanceRole: c.EcsRAMRole}
	keys := c.EcsRAMRole == "" // an instance role brings its own credentials
	var errs []error
	var err error
	if s.ak, err = read(c.AccessKeyEnv, c.AccessKeyFile, "access_key", keys); err != nil {
		errs = append(errs, err)
	}
	if s.sk, err = read(c.SecretKeyEnv, c.SecretKeyFile, "secret_key", keys); err != nil {
		errs = append(errs, err)
	}
	if s.token, err = read(c.SecurityTokenEnv, c.SecurityTokenFile, "security_token", false); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// resolveAll resolves a provider's default and per-account credentials.
func (p providerAccounts) resolveAll(provider string) (*secretTriple, map[string]secretTriple, error) {
	var errs []error
	var def *secretTriple
	if p.Default != nil {
		s, err := p.Default.resolve()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.default: %w", provider, err))
		}
		def = &s
	}
	accts := map[string]secretTriple{}
	for id, src := range p.Accounts {
		s, err := src.resolve()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.accounts.%s: %w", provider, id, err))
		}
		accts[id] = s
	}
	return def, accts, errors.Join(errs...)
}

func huaweiCreds(s secretTriple) huawei.Credentials {
	return huawei.Credentials{AccessKey: s.ak, SecretKey: s.sk, SecurityToken: s.token, Agency: s.agency}
}

// secret reads one optional secret from the source's env or file fields
// (AccessKeyEnv / AccessKeyFile), "" when neither is set.
func (c credentialSource) secret(what string) (string, error) {
	switch {
	case c.AccessKeyEnv != "" && c.AccessKeyFile != "":
		return "", fmt.Errorf("%s: give the _env or the _file form, not both", what)
	case c.AccessKeyEnv != "":
		v := os.Getenv(c.AccessKeyEnv)
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty", what, c.AccessKeyEnv)
		}
		return v, nil
	case c.AccessKeyFile != "":
		b, err := os.ReadFile(c.AccessKeyFile)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}
