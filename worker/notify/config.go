package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/remediator/remediator/worker/audit"
)

// Sink types.
const (
	TypeWebhook = "webhook" // a CloudEvent in binary mode over HTTP POST
	TypeSlack   = "slack"   // a Slack-compatible incoming webhook
)

// SinkConfig is one sink of the --sinks file. The URL and the token are
// named by environment variable or file, never written inline.
type SinkConfig struct {
	Name      string
	Type      string
	URLEnv    string
	URLFile   string
	TokenEnv  string
	TokenFile string
	// Outcomes are the outcomes sent; empty: all.
	Outcomes []audit.Outcome
	// Rules are globs (*, ?) on the record's rule; empty: any.
	Rules []string
	// Accounts are the cloud accounts sent; empty: any.
	Accounts []string
	// Deliver is where a new sink's consumer starts: "new" (default,
	// records published from its creation on) or "all" (the whole trail).
	Deliver string

	line int // where the sink is in its file
}

// Outcomes a sink may name: every final outcome, and the approval
// workflow's.
var knownOutcomes = []audit.Outcome{
	audit.Remediated, audit.AlreadyCompliant, audit.Planned, audit.NoMatch, audit.OutOfScope,
	audit.Untrusted, audit.Exempt, audit.DeadLettered, audit.CircuitOpen,
	audit.AwaitingApproval, audit.Denied, audit.ApprovalExpired,
}

var sinkName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Load reads a --sinks file: unknown keys and bad values are errors with
// file:line, every problem reported at once.
func Load(path string) ([]SinkConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sinks file: %w", err)
	}
	return Parse(path, b)
}

// Parse reads a sinks file's content; name is the file's name in errors.
func Parse(name string, b []byte) ([]SinkConfig, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &parser{file: name}
	var sinks []SinkConfig
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no sinks: want sinks: [- name: ..., type: webhook|slack, url_env|url_file: ...]", name)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: want a mapping with sinks:", name, top.Line, top.Column)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "sinks" {
			p.add(k, "", "unknown key %s (the file has one key: sinks)", k.Value)
			continue
		}
		if v.Kind != yaml.SequenceNode {
			p.add(v, "", "sinks must be a list")
			continue
		}
		for j, item := range v.Content {
			sinks = append(sinks, p.sink(item, j))
		}
	}
	if len(sinks) == 0 && len(p.errs) == 0 {
		p.add(top, "", "no sinks")
	}
	p.validate(sinks)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return sinks, nil
}

type parser struct {
	file string
	errs []error
}

func (p *parser) add(n *yaml.Node, sink, format string, args ...any) {
	where := ""
	if sink != "" {
		where = "sinks[" + sink + "]: "
	}
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s%s", p.file, n.Line, n.Column, where, fmt.Sprintf(format, args...)))
}

// sink reads one list item, field by field.
func (p *parser) sink(n *yaml.Node, index int) SinkConfig {
	s := SinkConfig{line: n.Line}
	label := fmt.Sprint(index)
	if n.Kind != yaml.MappingNode {
		p.add(n, label, "a sink must be a mapping")
		return s
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			s.Name, label = n.Content[i+1].Value, n.Content[i+1].Value
		}
	}
	str := func(dst *string) func(k, v *yaml.Node) {
		return func(k, v *yaml.Node) {
			if v.Kind != yaml.ScalarNode {
				p.add(v, label, "%s must be a string", k.Value)
				return
			}
			*dst = v.Value
		}
	}
	list := func(dst *[]string) func(k, v *yaml.Node) {
		return func(k, v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				p.add(v, label, "%s must be a list", k.Value)
				return
			}
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode || it.Value == "" {
					p.add(it, label, "%s: items must be non-empty strings", k.Value)
					continue
				}
				*dst = append(*dst, it.Value)
			}
		}
	}
	var outcomes []string
	fields := map[string]func(k, v *yaml.Node){
		"name": str(&s.Name), "type": str(&s.Type), "url_env": str(&s.URLEnv), "url_file": str(&s.URLFile),
		"token_env": str(&s.TokenEnv), "token_file": str(&s.TokenFile), "deliver": str(&s.Deliver),
		"outcomes": list(&outcomes), "rules": list(&s.Rules), "accounts": list(&s.Accounts),
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			p.add(k, label, "unknown key %s (known: %s)", k.Value, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
			continue
		}
		f(k, v)
	}
	for _, o := range outcomes {
		if !slices.Contains(knownOutcomes, audit.Outcome(o)) {
			p.add(n, label, "outcomes: unknown outcome %q (known: %s)", o, outcomeList())
		}
		s.Outcomes = append(s.Outcomes, audit.Outcome(o))
	}
	return s
}

// validate checks each sink as a whole and the names' uniqueness.
func (p *parser) validate(sinks []SinkConfig) {
	seen := map[string]bool{}
	for _, s := range sinks {
		at := &yaml.Node{Line: s.line, Column: 3}
		label := s.Name
		if label == "" {
			label = "?"
		}
		switch {
		case s.Name == "":
			p.add(at, label, "name is required")
		case !sinkName.MatchString(s.Name):
			p.add(at, label, "name %q: use 1 to 64 letters, digits, - or _ (it names the sink's consumer)", s.Name)
		case seen[s.Name]:
			p.add(at, label, "name %q is used twice", s.Name)
		}
		seen[s.Name] = true
		if s.Type != TypeWebhook && s.Type != TypeSlack {
			p.add(at, label, "type %q: want %s or %s", s.Type, TypeWebhook, TypeSlack)
		}
		if (s.URLEnv == "") == (s.URLFile == "") {
			p.add(at, label, "give url_env or url_file (exactly one): the URL is a secret and is never written inline")
		}
		if s.TokenEnv != "" && s.TokenFile != "" {
			p.add(at, label, "give token_env or token_file, not both")
		}
		if s.Type == TypeSlack && (s.TokenEnv != "" || s.TokenFile != "") {
			p.add(at, label, "a slack sink takes no token: its URL carries it")
		}
		if s.Deliver != "" && s.Deliver != "new" && s.Deliver != "all" {
			p.add(at, label, "deliver %q: want new (default) or all", s.Deliver)
		}
	}
}

func outcomeList() string {
	s := make([]string, len(knownOutcomes))
	for i, o := range knownOutcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
