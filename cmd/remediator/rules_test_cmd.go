package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/remediator/remediator/rules"
)

// testRun is what `rules test` found: the cases of every test file, the
// files that could not be run, and the rule files skipped in directories.
type testRun struct {
	OK      bool          `json:"ok"`
	Cases   int           `json:"cases"`
	Failed  int           `json:"failed"`
	Results []caseJSON    `json:"results"`
	Errors  []fileMessage `json:"errors"`  // test files that could not be run
	Skipped []fileMessage `json:"skipped"` // rule files met in a directory
	files   []testFileRun // per file, in order, for JUnit
}

type caseJSON struct {
	Name     string   `json:"name"`
	File     string   `json:"file"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures"` // why the case failed; empty when it passed
	Plan     []string `json:"plan"`     // what the worker would do, one line per matching rule
	Seconds  float64  `json:"seconds"`
}

type fileMessage struct {
	File    string `json:"file"`
	Message string `json:"message"`
}

type testFileRun struct {
	file    string
	results []rules.CaseResult
	err     error
}

func newRulesTestCmd(stdout io.Writer) *cobra.Command {
	var (
		limits    rules.Limits
		output    outputFlag
		junitPath string
	)
	test := &cobra.Command{
		Use:   "test FILE|DIR...",
		Short: "Run rule test files (or every *.yaml in a directory) offline: no NATS, no cloud",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			reg, err := offlineActions()
			if err != nil {
				return err
			}
			tr := runRuleTests(reg, args, limits)
			if junitPath != "" {
				if err := writeJUnit(junitPath, tr); err != nil {
					return err
				}
			}
			if output.format == "json" {
				b, _ := json.MarshalIndent(tr, "", "  ")
				fmt.Fprintln(stdout, string(b))
			} else {
				printTestRun(stdout, tr)
			}
			if !tr.OK {
				return exitError{code: 1}
			}
			return nil
		},
	}
	registerRuleLimits(test.Flags(), &limits)
	output.register(test.Flags(), "text", "json")
	test.Flags().StringVar(&junitPath, "junit", "", "also write the results as JUnit XML to this file, for CI")
	return test
}

// runRuleTests runs every test file named or found in a directory. A file
// that cannot be run is reported and the others still run; a rule file
// met in a directory (rules and their tests side by side) is skipped, one
// named on the command line is an error.
func runRuleTests(cat rules.Catalog, args []string, limits rules.Limits) *testRun {
	tr := &testRun{Results: []caseJSON{}, Errors: []fileMessage{}, Skipped: []fileMessage{}}
	var skipped []*rules.NotTestFileError
	for _, arg := range args {
		files, walked := []string{arg}, false
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			files, walked = nil, true
			if files, err = rules.TestFilesIn(arg); err != nil {
				tr.addError(arg, err)
				continue
			}
		}
		for _, f := range files {
			res, err := limits.RunTestFiles(cat, f)
			var nt *rules.NotTestFileError
			if walked && errors.As(err, &nt) {
				skipped = append(skipped, nt)
				continue
			}
			tr.add(f, res, err)
		}
	}
	for _, nt := range skipped {
		if len(tr.files) == 0 {
			tr.addError(nt.File, nt) // nothing but rule files: the mistake is the directory
			continue
		}
		tr.Skipped = append(tr.Skipped, fileMessage{File: nt.File, Message: "a rule file, not a test file"})
	}
	tr.OK = tr.Failed == 0 && len(tr.Errors) == 0
	return tr
}

func (tr *testRun) add(file string, res []rules.CaseResult, err error) {
	tr.files = append(tr.files, testFileRun{file: file, results: res, err: err})
	for _, r := range res {
		tr.Cases++
		if !r.Passed() {
			tr.Failed++
		}
		tr.Results = append(tr.Results, caseJSON{Name: r.Name, File: r.File, Passed: r.Passed(),
			Failures: nonNil(r.Failures), Plan: nonNil(r.Plan), Seconds: r.Duration.Seconds()})
	}
	if err != nil {
		tr.Errors = append(tr.Errors, fileMessage{File: file, Message: err.Error()})
	}
}

func (tr *testRun) addError(file string, err error) { tr.add(file, nil, err) }

func printTestRun(w io.Writer, tr *testRun) {
	for _, f := range tr.files {
		for _, r := range f.results {
			status := "PASS"
			if !r.Passed() {
				status = "FAIL"
			}
			fmt.Fprintf(w, "%s  %s: %s\n", status, r.File, r.Name)
			for _, p := range r.Plan {
				fmt.Fprintf(w, "      plan: %s\n", p)
			}
			for _, f := range r.Failures {
				fmt.Fprintf(w, "      %s\n", f)
			}
		}
		if f.err != nil {
			fmt.Fprintf(w, "ERROR %s\n", f.err)
		}
	}
	for _, s := range tr.Skipped {
		fmt.Fprintf(w, "skip  %s: %s\n", s.File, s.Message)
	}
	fmt.Fprintf(w, "%d cases, %d failed", tr.Cases, tr.Failed)
	if len(tr.Errors) > 0 {
		fmt.Fprintf(w, ", %d files could not be run", len(tr.Errors))
	}
	fmt.Fprintln(w)
}
