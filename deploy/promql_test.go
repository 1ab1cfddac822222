package deploy_test

import (
	"regexp"
	"sort"
	"strings"
)

// The PromQL the dashboard and the alert rules hold is read here only to
// find which series and labels it names (promtool and Prometheus's parser
// are not dependencies): string literals, durations and label lists are
// taken apart, and every identifier left that is not a function call or a
// keyword is a metric name.

// selector is one metric name in an expression with the label matchers
// written beside it.
type selector struct {
	name     string
	matchers []matcher
}

type matcher struct {
	label, op, value string
}

// query is what one expression names.
type query struct {
	expr      string
	selectors []selector
	grouping  []string // labels of by (...), without (...), on (...), ignoring (...), group_left/right (...)
}

var (
	reSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}`)
	reMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	reGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	reRange    = regexp.MustCompile(`\[[^\]]*\]`)
	reString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	reIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	reNumber   = regexp.MustCompile(`\b\d[0-9a-zA-Z.]*`) // numbers and durations (30m, 1h)
	keywords   = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}
)

// parseQuery finds the selectors and grouping labels of expr.
func parseQuery(expr string) query {
	q := query{expr: expr}
	rest := reSelector.ReplaceAllStringFunc(expr, func(s string) string {
		m := reSelector.FindStringSubmatch(s)
		sel := selector{name: m[1]}
		for _, mm := range reMatcher.FindAllStringSubmatch(m[2], -1) {
			if mm[1] == "__name__" && mm[2] == "=" {
				sel.name = mm[3]
				continue
			}
			sel.matchers = append(sel.matchers, matcher{mm[1], mm[2], mm[3]})
		}
		q.selectors = append(q.selectors, sel)
		return " "
	})
	rest = reGrouping.ReplaceAllStringFunc(rest, func(s string) string {
		for _, l := range strings.Split(reGrouping.FindStringSubmatch(s)[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				q.grouping = append(q.grouping, l)
			}
		}
		return " "
	})
	rest = reString.ReplaceAllString(reRange.ReplaceAllString(rest, " "), " ")
	rest = reNumber.ReplaceAllString(rest, " ")
	for _, loc := range reIdent.FindAllStringIndex(rest, -1) {
		id := rest[loc[0]:loc[1]]
		if keywords[strings.ToLower(id)] || strings.HasPrefix(strings.TrimLeft(rest[loc[1]:], " \t\n"), "(") {
			continue // a function call or a keyword
		}
		q.selectors = append(q.selectors, selector{name: id})
	}
	return q
}

// grafanaQuery reads a Grafana template variable's query: label_values(
// SELECTOR, LABEL) names SELECTOR's series and LABEL.
func grafanaQuery(s string) query {
	if m := regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`).FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		q := parseQuery(m[1])
		q.expr, q.grouping = s, append(q.grouping, m[2])
		return q
	}
	return parseQuery(s)
}

// family is one metric family of a scrape and the labels its samples carry.
type family struct {
	typ    string
	labels map[string]bool
}

// parseExposition reads Prometheus's text format: the families by name,
// a histogram's or summary's _bucket, _sum and _count samples under the
// family.
func parseExposition(text string) map[string]*family {
	fams := map[string]*family{}
	get := func(n string) *family {
		if fams[n] == nil {
			fams[n] = &family{labels: map[string]bool{}}
		}
		return fams[n]
	}
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			get(f[2]).typ = f[3]
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name := l[:strings.IndexAny(l, "{ ")]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil && (fams[base].typ == "histogram" || fams[base].typ == "summary") {
				name = base
			}
		}
		fam := get(name)
		if i := strings.Index(l, "{"); i >= 0 {
			for _, m := range reMatcher.FindAllStringSubmatch(l[i:], -1) {
				fam.labels[m[1]] = true
			}
		}
	}
	return fams
}

// lookup finds the family a queried name belongs to: a histogram is
// queried through its _bucket, _sum or _count series, never by its own name.
func lookup(fams map[string]*family, name string) (*family, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil && fams[base].typ == "histogram" {
			return fams[base], true
		}
	}
	f := fams[name]
	return f, f != nil && f.typ != "histogram" && f.typ != "summary"
}

func keys(m map[string]*family) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
