package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"time"
)

// JUnit XML as CI systems read it (Jenkins, GitLab, GitHub actions that
// publish test reports): one testsuite per rule test file, one testcase per
// case; a test file that could not be run is a testsuite with one errored
// testcase, so the report still says so.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"` // the plan
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// junitReport builds the report of a run; now stamps the suites.
func junitReport(tr *testRun, now time.Time) junitSuites {
	out := junitSuites{Name: "remediator rules test"}
	var total time.Duration
	for _, f := range tr.files {
		s := junitSuite{Name: f.file, Timestamp: now.UTC().Format("2006-01-02T15:04:05")}
		var took time.Duration
		for _, r := range f.results {
			c := junitCase{Name: r.Name, Classname: f.file, Time: seconds(r.Duration), SystemOut: strings.Join(r.Plan, "\n")}
			if !r.Passed() {
				c.Failure = &junitProblem{Message: r.Failures[0], Type: "rule_test", Text: strings.Join(r.Failures, "\n")}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
			took += r.Duration
		}
		if f.err != nil {
			msg := f.err.Error()
			first, _, _ := strings.Cut(msg, "\n")
			s.Cases = append(s.Cases, junitCase{Name: "load " + f.file, Classname: f.file, Time: seconds(0),
				Error: &junitProblem{Message: first, Type: "load", Text: msg}})
			s.Errors++
		}
		s.Tests, s.Time = len(s.Cases), seconds(took)
		out.Suites = append(out.Suites, s)
		out.Tests, out.Failures, out.Errors = out.Tests+s.Tests, out.Failures+s.Failures, out.Errors+s.Errors
		total += took
	}
	out.Time = seconds(total)
	return out
}

// writeJUnit writes the report to path.
func writeJUnit(path string, tr *testRun) error {
	b, err := xml.MarshalIndent(junitReport(tr, time.Now()), "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--junit: cannot write the report: %w", err)
	}
	return nil
}
