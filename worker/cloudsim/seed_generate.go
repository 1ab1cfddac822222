package cloudsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
)

// SeedGenerate adds Count KMS keys to one Huawei project, so an estate of
// thousands of keys is a few lines of seed:
//
//	huawei:
//	  generate:
//	    - {project: 00000000000000000000000000000001, region: cn-north-4, count: 1000,
//	       rotation_off_every: 7, disabled_every: 50, external_every: 100}
//
// Key n (1 to Count) is enabled, AES_256, KMS-made and rotating, except:
//   - rotation_off_every N: when N divides n, rotation is off;
//   - disabled_every N: the key is disabled;
//   - pending_deletion_every N: the key is pending deletion (this wins
//     over disabled);
//   - external_every N: the key material is imported (origin external),
//     and rotation is off (imported keys cannot rotate);
//   - asymmetric_every N: the key is RSA_2048, rotation off;
//   - default_every N: the key is a default (service) key, rotation off.
//
// 0 leaves a rule out. So of 1000 keys, rotation_off_every 7 turns 142
// off (and every imported, asymmetric or default key is off besides).
//
// Ids are deterministic: the first 20 hex digits hash the project id,
// the last 12 are n in decimal (GeneratedKeyID), so they sort in the order
// generated and never collide across projects. A second entry for the
// same project continues the numbering. Aliases are AliasPrefix-n
// ("key-000042", prefix "key" by default).
//
// Region is the project's region; it may be left out when the project is
// listed under projects or an earlier entry gave it (and must then agree). A project that
// only generate names has EVS default encryption off.
type SeedGenerate struct {
	Project              string `yaml:"project"`
	Region               string `yaml:"region"`
	Count                int    `yaml:"count"`
	AliasPrefix          string `yaml:"alias_prefix"`
	RotationOffEvery     int    `yaml:"rotation_off_every"`
	DisabledEvery        int    `yaml:"disabled_every"`
	PendingDeletionEvery int    `yaml:"pending_deletion_every"`
	ExternalEvery        int    `yaml:"external_every"`
	AsymmetricEvery      int    `yaml:"asymmetric_every"`
	DefaultEvery         int    `yaml:"default_every"`
}

// maxGenerated bounds the keys one seed may generate, so a typo (an extra
// zero or three) is an error rather than a simulator that eats the memory.
const maxGenerated = 1_000_000

// GeneratedKeyID is the id of the n-th (from 1) key generated for a
// project.
func GeneratedKeyID(project string, n int) string {
	h := sha256.Sum256([]byte(project))
	x := hex.EncodeToString(h[:10])
	return fmt.Sprintf("%s-%s-%s-%s-%012d", x[:8], x[8:12], x[12:16], x[16:20], n)
}

// every reports whether rule N picks key n.
func every(n, rule int) bool { return rule > 0 && n%rule == 0 }

// key returns the n-th key of the entry.
func (g SeedGenerate) key(n int) SeedKey {
	prefix := orDefault(g.AliasPrefix, "key")
	k := SeedKey{ID: GeneratedKeyID(g.Project, n), Alias: fmt.Sprintf("%s-%06d", prefix, n), State: "enabled",
		Rotation: !every(n, g.RotationOffEvery), Origin: "kms", Spec: "AES_256"}
	if every(n, g.DisabledEvery) {
		k.State = "disabled"
	}
	if every(n, g.PendingDeletionEvery) {
		k.State = "pending_deletion"
	}
	if every(n, g.ExternalEvery) {
		k.Origin, k.Rotation = "external", false
	}
	if every(n, g.AsymmetricEvery) {
		k.Spec, k.Rotation = "RSA_2048", false
	}
	if every(n, g.DefaultEvery) {
		k.Default, k.Rotation = true, false
	}
	return k
}

// expand returns the projects with the generated keys added (the seed's
// own map is left as it is).
func (h SeedHuawei) expand() map[string]SeedProject {
	if len(h.Generate) == 0 {
		return h.Projects
	}
	out := maps.Clone(h.Projects)
	if out == nil {
		out = map[string]SeedProject{}
	}
	next := map[string]int{} // the last number generated per project
	for _, g := range h.Generate {
		p := out[g.Project]
		if p.Region == "" {
			p.Region = g.Region
		}
		keys := make([]SeedKey, 0, len(p.KMSKeys)+max(g.Count, 0))
		keys = append(keys, p.KMSKeys...) // a copy: the seed's slice is never appended to
		for n := next[g.Project] + 1; n <= next[g.Project]+g.Count; n++ {
			keys = append(keys, g.key(n))
		}
		next[g.Project] += max(g.Count, 0)
		p.KMSKeys = keys
		out[g.Project] = p
	}
	return out
}

// validateGenerate checks the generate entries (the keys they make are
// checked with the rest).
func (h SeedHuawei) validateGenerate() []error {
	var errs []error
	total := 0
	regions := map[string]string{} // given by generate entries to projects not listed
	for i, g := range h.Generate {
		where := fmt.Sprintf("huawei.generate[%d]", i)
		if !projectPattern.MatchString(g.Project) {
			errs = append(errs, fmt.Errorf("%s: project %q is not a project id (32 hex characters)", where, g.Project))
		}
		listed, ok := h.Projects[g.Project]
		earlier := regions[g.Project]
		switch {
		case ok && g.Region != "" && listed.Region != "" && g.Region != listed.Region:
			errs = append(errs, fmt.Errorf("%s: region %s differs from huawei.projects.%s.region %s", where, g.Region, g.Project, listed.Region))
		case !ok && earlier != "" && g.Region != "" && g.Region != earlier:
			errs = append(errs, fmt.Errorf("%s: region %s differs from the %s an earlier entry gave project %s", where, g.Region, earlier, g.Project))
		case !ok && earlier == "" && g.Region == "":
			errs = append(errs, fmt.Errorf("%s: region is required (project %s is not listed under huawei.projects)", where, g.Project))
		}
		if earlier == "" {
			regions[g.Project] = g.Region
		}
		if g.Count < 1 {
			errs = append(errs, fmt.Errorf("%s: count must be at least 1", where))
		}
		total += max(g.Count, 0)
		for _, r := range []struct {
			name string
			n    int
		}{{"rotation_off_every", g.RotationOffEvery}, {"disabled_every", g.DisabledEvery},
			{"pending_deletion_every", g.PendingDeletionEvery}, {"external_every", g.ExternalEvery},
			{"asymmetric_every", g.AsymmetricEvery}, {"default_every", g.DefaultEvery}} {
			if r.n < 0 {
				errs = append(errs, fmt.Errorf("%s: %s must be 0 (off) or more", where, r.name))
			}
		}
	}
	if total > maxGenerated {
		errs = append(errs, fmt.Errorf("huawei.generate: %d keys in all, at most %d", total, maxGenerated))
	}
	return errs
}
