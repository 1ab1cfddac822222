package rules

import (
	"fmt"
	"io"
	"os"
)

// Limits bound what loading rules may cost: a 50 MB file of 200,000 rules
// took 48 s and 5 GB to check. The file size is checked before the file is
// read, the number of rules before any CEL is compiled.
type Limits struct {
	FileBytes int64 // most bytes in one rule file
	Rules     int   // most rules in a set, over all its files
}

// DefaultLimits are far above any real pack: 4 MiB a file, 5,000 rules.
func DefaultLimits() Limits { return Limits{FileBytes: 4 << 20, Rules: 5000} }

// Load is Load under these limits.
func (l Limits) Load(cat Catalog, paths ...string) (*Set, error) {
	srcs, err := l.readSources(paths)
	if err != nil {
		return nil, err
	}
	return l.compileSources(cat, srcs)
}

// LoadWithBuiltin is LoadWithBuiltin under these limits.
func (l Limits) LoadWithBuiltin(cat Catalog, paths ...string) (*Set, error) {
	srcs, err := l.readSources(paths)
	if err != nil {
		return nil, err
	}
	if err := addFS(srcs, builtinFS, "builtin"); err != nil {
		return nil, err
	}
	return l.compileSources(cat, srcs)
}

// fileTooLarge is the problem of a file over the limit.
func (l Limits) fileTooLarge(file string, size int64) error {
	return &LoadError{Problems: []Problem{{File: file, Line: 1, Column: 1,
		Msg: fmt.Sprintf("the file is %d bytes, the limit is %d (--max-rule-file-bytes)", size, l.FileBytes)}}}
}

// readFile reads a rule file no larger than the limit: its size is known
// from stat before reading, and the read stops one byte past the limit in
// case the file grew in between.
func (l Limits) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if l.FileBytes > 0 && st.Size() > l.FileBytes {
		return nil, l.fileTooLarge(path, st.Size())
	}
	r := io.Reader(f)
	if l.FileBytes > 0 {
		r = io.LimitReader(f, l.FileBytes+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if l.FileBytes > 0 && int64(len(b)) > l.FileBytes {
		return nil, l.fileTooLarge(path, int64(len(b)))
	}
	return b, nil
}

// checkRules reports a set of more rules than the limit.
func (l Limits) checkRules(specs []*spec) error {
	if l.Rules <= 0 || len(specs) <= l.Rules {
		return nil
	}
	s := specs[l.Rules]
	return &LoadError{Problems: []Problem{{File: s.file, Line: s.node.Line, Column: s.node.Column,
		Msg: fmt.Sprintf("the set has %d rules, the limit is %d (--max-rules)", len(specs), l.Rules)}}}
}
