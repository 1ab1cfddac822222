package rules

import "strings"

// glob matches text against a pattern where * matches any run of
// characters and ? any one. A pattern without either is an exact match.
type glob struct {
	pattern string
	exact   bool
}

func compileGlob(p string) glob {
	return glob{pattern: p, exact: !strings.ContainsAny(p, "*?")}
}

func (g glob) match(s string) bool {
	if g.pattern == "" {
		return true
	}
	if g.exact {
		return g.pattern == s
	}
	return globMatch(g.pattern, s)
}

// MatchGlob reports whether s matches pattern, where * matches any run of
// characters (none included) and ? any one byte; a pattern without either
// is an exact match, and the empty pattern matches only "". It is the
// matcher of the rules' match fields, shared by every allowlist (ingest's
// --allow-type and sources, the worker's --trusted-source) so that one
// pattern means the same thing everywhere: "*:ActionTrail:ApiCall",
// "KMS:CloudTrace:*", "acs.*", "a*b", "HC.?MS".
func MatchGlob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	return globMatch(pattern, s)
}

// globMatch is the classic iterative wildcard match with backtracking to
// the last star; it runs in O(len(p)*len(s)) at worst.
func globMatch(p, s string) bool {
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
