package cloudsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Demo credentials, accepted when a seed names none. They are public and
// good only for the simulator.
const (
	DemoAccessKey = "SIMULATORACCESSKEY0000"
	DemoSecretKey = "simulator-demo-secret-not-real"
)

// Seed is the simulator's initial state.
type Seed struct {
	Credentials []SeedCredential `yaml:"credentials"`
	Huawei      SeedHuawei       `yaml:"huawei"`
	Alibaba     SeedAlibaba      `yaml:"alibaba"`
}

// SeedCredential is one accepted AK/SK pair.
type SeedCredential struct {
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// Account is the Alibaba account id or Huawei domain id the key
	// belongs to ("" for any).
	Account string `yaml:"account"`
	// RAMUser marks the key as a RAM (sub-)user's rather than the
	// account's own: ECS default-KMS-key operations refuse it.
	RAMUser bool `yaml:"ram_user"`
}

// SeedHuawei is the Huawei Cloud state, by project id. Generate adds
// KMS keys in bulk (see SeedGenerate) to listed projects or new ones.
type SeedHuawei struct {
	Projects map[string]SeedProject `yaml:"projects"`
	Generate []SeedGenerate         `yaml:"generate"`
}

// SeedProject is one IAM project (one region).
type SeedProject struct {
	Region  string    `yaml:"region"`
	KMSKeys []SeedKey `yaml:"kms_keys"`
	EVS     SeedEVS   `yaml:"evs"`
}

// SeedEVS is a project's EVS default-encryption state.
type SeedEVS struct {
	DefaultEncryption bool   `yaml:"default_encryption"`
	DefaultKMSKeyID   string `yaml:"default_kms_key_id"` // "" means the service key evs/default
}

// SeedAlibaba is the Alibaba Cloud state, by account id.
type SeedAlibaba struct {
	Accounts map[string]SeedAlibabaAccount `yaml:"accounts"`
}

// SeedAlibabaAccount is one Alibaba Cloud account, by region id.
type SeedAlibabaAccount struct {
	Regions map[string]SeedECSRegion `yaml:"regions"`
}

// SeedECSRegion is a region's account-level EBS default encryption state
// and the KMS keys ECS may use there.
type SeedECSRegion struct {
	EncryptionByDefault bool            `yaml:"encryption_by_default"`
	DefaultKMSKeyID     string          `yaml:"default_kms_key_id"` // "" means the service key
	KMSKeys             []SeedAliKMSKey `yaml:"kms_keys"`
}

// SeedAliKMSKey is an Alibaba KMS key.
type SeedAliKMSKey struct {
	ID    string `yaml:"id"`
	State string `yaml:"state"` // Enabled, Disabled, PendingDeletion
}

// SeedKey is one KMS key.
type SeedKey struct {
	ID       string `yaml:"id"`
	Alias    string `yaml:"alias"`
	State    string `yaml:"state"` // enabled, disabled, pending_deletion, pending_import, pending_creation
	Rotation bool   `yaml:"rotation"`
	Origin   string `yaml:"origin"` // kms or external
	Spec     string `yaml:"spec"`   // AES_256, SM4, RSA_2048, EC_P256...
	Default  bool   `yaml:"default"`
}

var (
	keyIDPattern   = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`)
	projectPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	stateCodes     = map[string]string{
		"pending_creation": "1", "enabled": "2", "disabled": "3", "pending_deletion": "4", "pending_import": "5",
	}
)

// LoadSeed reads a seed from a YAML file.
func LoadSeed(path string) (Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("cloudsim seed: %w", err)
	}
	s, err := ParseSeed(b)
	if err != nil {
		return Seed{}, fmt.Errorf("cloudsim seed %s: %w", path, err)
	}
	return s, nil
}

// ParseSeed decodes a seed strictly (unknown keys are errors with their
// line) and validates it.
func ParseSeed(b []byte) (Seed, error) {
	var s Seed
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Seed{}, err
	}
	return s, s.validate()
}

func (s Seed) validate() error {
	var errs []error
	for i, c := range s.Credentials {
		if c.AccessKey == "" || c.SecretKey == "" {
			errs = append(errs, fmt.Errorf("credentials[%d]: access_key and secret_key are required", i))
		}
	}
	projects := s.Huawei.Projects
	if gen := s.Huawei.validateGenerate(); len(gen) > 0 {
		errs = append(errs, gen...)
	} else {
		projects = s.Huawei.expand()
	}
	ids := map[string]string{}
	for pid, p := range projects {
		if !projectPattern.MatchString(pid) {
			errs = append(errs, fmt.Errorf("huawei.projects: %q is not a project id (32 hex characters)", pid))
		}
		if p.Region == "" {
			errs = append(errs, fmt.Errorf("huawei.projects.%s: region is required", pid))
		}
		for _, k := range p.KMSKeys {
			where := fmt.Sprintf("huawei.projects.%s.kms_keys[%s]", pid, k.ID)
			if !keyIDPattern.MatchString(k.ID) {
				errs = append(errs, fmt.Errorf("%s: id does not match %s", where, keyIDPattern))
			}
			if prev, dup := ids[k.ID]; dup {
				errs = append(errs, fmt.Errorf("%s: duplicate key id (also in project %s)", where, prev))
			}
			ids[k.ID] = pid
			if _, ok := stateCodes[k.State]; !ok && k.State != "" {
				errs = append(errs, fmt.Errorf("%s: unknown state %q", where, k.State))
			}
			if k.Origin != "" && k.Origin != "kms" && k.Origin != "external" {
				errs = append(errs, fmt.Errorf("%s: origin must be kms or external", where))
			}
		}
	}
	return errors.Join(errs...)
}
