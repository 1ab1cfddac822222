package rules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Set is an immutable, checked rule set, safe for concurrent use.
type Set struct {
	policy map[string]any
	rules  []*Rule // enabled rules, in load order
	byType map[string][]*Rule
	globs  []*Rule // rules whose type is a glob
}

// Rules returns the enabled rules in load order.
func (s *Set) Rules() []*Rule { return s.rules }

// Policy returns the merged policy of the set's files (nil when none has
// one). It is shared: callers must not change it.
func (s *Set) Policy() map[string]any { return s.policy }

// Load reads rule files and directories (every *.yaml and *.yml in them,
// recursively, in name order) and checks them against the catalog, under
// DefaultLimits.
func Load(cat Catalog, paths ...string) (*Set, error) {
	return DefaultLimits().Load(cat, paths...)
}

// LoadWithBuiltin loads the built-in pack and the given files as one set
// (rule names must be unique across both), under DefaultLimits.
func LoadWithBuiltin(cat Catalog, paths ...string) (*Set, error) {
	return DefaultLimits().LoadWithBuiltin(cat, paths...)
}

func (l Limits) readSources(paths []string) (map[string][]byte, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isYAML(f) {
				files = append(files, f)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule files (*.yaml, *.yml) in %s", strings.Join(paths, ", "))
	}
	srcs := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := l.readFile(f)
		if err != nil {
			return nil, err
		}
		srcs[f] = b
	}
	return srcs, nil
}

// Builtin returns the rule pack embedded in the binary (rules/builtin).
func Builtin(cat Catalog) (*Set, error) {
	return LoadFS(cat, builtinFS, "builtin")
}

// LoadFS reads every *.yaml and *.yml file under dir in fsys.
func LoadFS(cat Catalog, fsys fs.FS, dir string) (*Set, error) {
	srcs := map[string][]byte{}
	if err := addFS(srcs, fsys, dir); err != nil {
		return nil, err
	}
	return DefaultLimits().compileSources(cat, srcs)
}

func addFS(srcs map[string][]byte, fsys fs.FS, dir string) error {
	return fs.WalkDir(fsys, dir, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isYAML(f) {
			return err
		}
		b, err := fs.ReadFile(fsys, f)
		srcs[path.Join("rules", f)] = b
		return err
	})
}

// Parse checks rules held in memory; name is used in problem locations.
func Parse(cat Catalog, name string, src []byte) (*Set, error) {
	l := DefaultLimits()
	if int64(len(src)) > l.FileBytes {
		return nil, l.fileTooLarge(name, int64(len(src)))
	}
	return l.compileSources(cat, map[string][]byte{name: src})
}

func isYAML(f string) bool {
	ext := strings.ToLower(filepath.Ext(f))
	return ext == ".yaml" || ext == ".yml"
}

func (l Limits) compileSources(cat Catalog, srcs map[string][]byte) (*Set, error) {
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	guarded, err := guardedCalls(env)
	if err != nil {
		return nil, err
	}
	c := &compiler{env: env, guarded: guarded, catalog: cat}
	var all []*Rule
	var specs []*spec
	var parts []policyPart
	for _, n := range names {
		ss, pol, ps := parseFile(n, bytes.NewReader(srcs[n]))
		c.problems = append(c.problems, ps...)
		specs = append(specs, ss...)
		parts = append(parts, pol...)
	}
	if err := l.checkRules(specs); err != nil {
		return nil, err
	}
	c.policy = c.buildPolicy(parts)
	seen := map[string]*spec{}
	for _, s := range specs {
		if prev, dup := seen[s.name]; dup {
			c.add(s.file, s.node, s.name, "name", "duplicate rule name (first defined at %s:%d)", prev.file, prev.node.Line)
			continue
		}
		seen[s.name] = s
		all = append(all, c.rule(s))
	}
	c.waive(all, parts)
	if len(c.problems) > 0 {
		sortProblems(c.problems)
		return nil, &LoadError{Problems: c.problems}
	}
	if len(all) == 0 {
		return nil, noRules(parts)
	}
	return newSet(all, c.policy), nil
}

// noRules is the error of a set with no rules. Most often it is a file
// holding only a policy (the form the README recommends) loaded without
// the built-in pack it is meant for.
func noRules(parts []policyPart) error {
	if len(parts) == 0 {
		return errors.New("the rule set has no rules: the files hold none (an empty rules: list?)")
	}
	k := parts[0].key
	return &LoadError{Problems: []Problem{{File: parts[0].file, Line: k.Line, Column: k.Column,
		Msg: "the rule set has no rules: this file holds only a policy; load it beside the built-in rule pack with --builtin " +
			"(run --builtin --rules FILE, rules check --builtin FILE), or add rules: to it"}}}
}

func newSet(all []*Rule, policy map[string]any) *Set {
	s := &Set{byType: map[string][]*Rule{}, policy: policy}
	for _, r := range all {
		if !r.Enabled {
			continue
		}
		s.rules = append(s.rules, r)
		if r.typeGlob.exact {
			s.byType[r.Type] = append(s.byType[r.Type], r)
		} else {
			s.globs = append(s.globs, r)
		}
	}
	return s
}
