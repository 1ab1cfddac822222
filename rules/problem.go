package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a rule set.
type Problem struct {
	File   string
	Line   int
	Column int
	Rule   string // the rule's name, or "" for file-level problems
	Field  string // e.g. "params.key_id"
	Msg    string
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Column)
	if p.Rule != "" {
		fmt.Fprintf(&b, "rules[%s]", p.Rule)
		if p.Field != "" {
			b.WriteString("." + p.Field)
		}
		b.WriteString(": ")
	} else if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// LoadError lists every problem found while loading a rule set.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}
