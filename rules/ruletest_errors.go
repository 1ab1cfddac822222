package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// readmeTests points at where the README describes test files.
const readmeTests = `see README "Checking and testing rules offline"`

// NotTestFileError says a file given as a rule test file is a rule file
// (rules with a match and an action, or a policy). `remediator rules test`
// reports it when the file is named, and skips the file when a directory
// it walked holds both kinds.
type NotTestFileError struct{ File string }

func (e *NotTestFileError) Error() string {
	return e.File + ": this is a rule file (it has rules:/policy:), not a rule test file; test files have cases: " +
		"tests: [{name: ..., event: EVENT.json, expect: [{rule: NAME}] or no_match}], and name the rules they test in rules: [PATHS] (" + readmeTests + ")"
}

// readTestFile decodes a rule test file strictly. A rule file is a
// *NotTestFileError; anything else wrong is a *LoadError whose problems
// name the file, the line and the form expected.
func readTestFile(path string, b []byte) (TestFile, error) {
	var tf TestFile
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc)
	switch {
	case errors.Is(err, io.EOF) || err == nil && len(doc.Content) == 0:
		return tf, testFileProblem(path, 1, "the file is empty: a test file has tests: [{name, event, expect}] ("+readmeTests+")")
	case err != nil:
		return tf, testFileError(path, err)
	}
	if isRuleFile(doc.Content[0]) {
		return tf, &NotTestFileError{File: path}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return tf, testFileError(path, err)
	}
	if len(tf.Tests) == 0 {
		return tf, testFileProblem(path, 1, "the file has no cases: a test file has tests: [{name, event, expect}] ("+readmeTests+")")
	}
	return tf, nil
}

// isRuleFile reports whether a document is a rule file rather than a test
// file: no tests, and a policy or a rules list holding rules (a test file's
// rules list holds paths).
func isRuleFile(top *yaml.Node) bool {
	if top.Kind != yaml.MappingNode || mapKey(top, "tests") != nil {
		return false
	}
	if mapKey(top, "policy") != nil || mapKey(top, "vars") != nil {
		return true
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if v := deref(top.Content[i+1]); top.Content[i].Value == "rules" && v.Kind == yaml.SequenceNode {
			return slices.ContainsFunc(v.Content, func(n *yaml.Node) bool { return deref(n).Kind == yaml.MappingNode })
		}
	}
	return false
}

func testFileProblem(path string, line int, msg string) error {
	return &LoadError{Problems: []Problem{{File: path, Line: line, Column: 1, Msg: msg}}}
}

var (
	yamlAtLine    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField  = regexp.MustCompile("^field (.+) not found in type rules\\.(\\w+)$")
	cannotDecode  = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	testFileForms = map[string]string{
		"TestFile":      "a test file has rules, builtin and tests",
		"TestCase":      "a case has name, event (or event_inline) and expect",
		"ExpectedMatch": "an expected match has rule, action, outcome and params",
	}
	testFileTypes = map[string]string{
		"rules.TestFile":          "a mapping with rules, builtin and tests",
		"[]rules.TestCase":        "a list of cases (tests: - name: ..., event: ..., expect: ...)",
		"rules.TestCase":          "a case (a mapping with name, event and expect)",
		"[]rules.ExpectedMatch":   "no_match or a list of expected matches (expect: - rule: NAME)",
		"rules.ExpectedMatch":     "an expected match (a mapping with rule, action, outcome, params)",
		"[]string":                "a list of paths (rules: [FILE|DIR, ...])",
		"bool":                    "true or false",
		"string":                  "a string",
		"map[string]string":       "a mapping of parameter name to value (params: {key_id: ...})",
		"map[string]interface {}": "a mapping (event_inline: a CloudEvent)",
	}
)

// testFileError turns the YAML decoder's errors into problems at
// file:line that say the form expected.
func testFileError(path string, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	le := &LoadError{}
	for _, m := range msgs {
		p := Problem{File: path, Column: 1, Msg: m}
		if s := yamlAtLine.FindStringSubmatch(m); s != nil {
			p.Line, _ = strconv.Atoi(s[1])
			p.Msg = s[2]
		}
		if s := unknownField.FindStringSubmatch(p.Msg); s != nil && testFileForms[s[2]] != "" {
			p.Msg = fmt.Sprintf("unknown field %s: %s (%s)", s[1], testFileForms[s[2]], readmeTests)
		} else if s := cannotDecode.FindStringSubmatch(p.Msg); s != nil && testFileTypes[s[3]] != "" {
			p.Msg = fmt.Sprintf("got %s, want %s", gotValue(s[1], s[2]), testFileTypes[s[3]])
		} else if te == nil {
			p.Msg = "YAML: " + p.Msg
		}
		le.Problems = append(le.Problems, p)
	}
	return le
}

// gotValue describes a YAML value the decoder could not use.
func gotValue(tag, value string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	}
	return fmt.Sprintf("%s %q", tagName(tag), value)
}
