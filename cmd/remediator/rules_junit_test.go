package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesTestJSONAndJUnit runs a passing case, a failing one and a test
// file that cannot be read, and reads both reports back.
func TestRulesTestJSONAndJUnit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ev := abs(t, "../../testdata/events/01-huawei-cts-rotation-disabled.json")
	writeFile(t, filepath.Join(dir, "a_test.yaml"), "tests:\n  - name: passes\n    event: "+ev+
		"\n    expect: [{rule: huawei-kms-rotation-disabled-cts}]\n  - name: fails\n    event: "+ev+"\n    expect: no_match\n")
	writeFile(t, filepath.Join(dir, "b_test.yaml"), "tests:\n  - name: x\n    evnt: "+ev+"\n    expect: no_match\n")
	report := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errs := rulesCLI("rules", "test", "-o", "json", "--junit", report, dir)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, out, errs)
	}
	var tr testRun
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a, b := filepath.Join(dir, "a_test.yaml"), filepath.Join(dir, "b_test.yaml")
	if tr.OK || tr.Cases != 2 || tr.Failed != 1 || len(tr.Results) != 2 || len(tr.Errors) != 1 || len(tr.Skipped) != 0 {
		t.Fatalf("report:\n%s", out)
	}
	if r := tr.Results[0]; r.Name != "passes" || r.File != a || !r.Passed || len(r.Failures) != 0 || len(r.Plan) != 1 {
		t.Errorf("case 0: %+v", r)
	}
	if r := tr.Results[1]; r.Name != "fails" || r.Passed || len(r.Failures) != 1 ||
		r.Failures[0] != "expected no match, but rule huawei-kms-rotation-disabled-cts matched" {
		t.Errorf("case 1: %+v", r)
	}
	if e := tr.Errors[0]; e.File != b || !strings.Contains(e.Message, b+":3:1: unknown field evnt: a case has name, event (or event_inline) and expect") {
		t.Errorf("error: %+v", e)
	}

	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var ju struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Time     string `xml:"time,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &ju); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, raw)
	}
	if !strings.HasPrefix(string(raw), "<?xml") || ju.Tests != 3 || ju.Failures != 1 || ju.Errors != 1 || len(ju.Suites) != 2 {
		t.Fatalf("JUnit counts: tests %d failures %d errors %d suites %d\n%s", ju.Tests, ju.Failures, ju.Errors, len(ju.Suites), raw)
	}
	s0, s1 := ju.Suites[0], ju.Suites[1]
	if s0.Name != a || s0.Tests != 2 || s0.Failures != 1 || s0.Errors != 0 || len(s0.Cases) != 2 || s0.Time == "" {
		t.Errorf("suite 0:\n%s", raw)
	}
	if c := s0.Cases[0]; c.Name != "passes" || c.Classname != a || c.Failure != nil || c.Time == "" {
		t.Errorf("passing testcase:\n%s", raw)
	}
	if c := s0.Cases[1]; c.Name != "fails" || c.Failure == nil || !strings.Contains(c.Failure.Message, "expected no match") {
		t.Errorf("failing testcase:\n%s", raw)
	}
	if s1.Name != b || s1.Tests != 1 || s1.Errors != 1 || len(s1.Cases) != 1 || s1.Cases[0].Error == nil ||
		!strings.Contains(s1.Cases[0].Error.Message, "unknown field evnt") {
		t.Errorf("suite 1:\n%s", raw)
	}

	// All passing: exit 0 and no failures in the report.
	code, out, errs = rulesCLI("rules", "test", "--junit", report, "../../testdata/rules/tests/builtin.yaml")
	raw, _ = os.ReadFile(report)
	if code != 0 || !strings.Contains(out, "8 cases, 0 failed\n") || !strings.Contains(string(raw), `<testsuites name="remediator rules test" tests="8" failures="0" errors="0"`) {
		t.Errorf("passing run: exit %d\n%s%s\n%s", code, out, errs, raw)
	}
	if code, _, errs = rulesCLI("rules", "test", "--junit", filepath.Join(dir, "no", "such", "dir.xml"), a); code != 1 || !strings.Contains(errs, "--junit: cannot write the report") {
		t.Errorf("unwritable report: exit %d\n%s", code, errs)
	}
}
