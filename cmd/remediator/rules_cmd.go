package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

func newRulesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Check, test, evaluate and describe rule files"}
	cmd.AddCommand(newRulesCheckCmd(stdout), newRulesTestCmd(stdout), newRulesEvalCmd(stdout))
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print a JSON Schema of the rule format, for editors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := offlineActions()
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(rules.JSONSchema(reg, reg.Names()), "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, string(b))
			return nil
		},
	})
	return cmd
}

// offlineActions is the action registry for commands that only read the
// actions' parameters: no call leaves the process.
func offlineActions() (*action.Registry, error) {
	return buildActions(providerConfig{cloudEndpoint: "http://127.0.0.1:0"}, zap.NewNop())
}

// checkReport is `rules check -o json`.
type checkReport struct {
	OK       bool          `json:"ok"`
	Rules    []string      `json:"rules"`    // the enabled rules loaded, in load order
	Problems []problemJSON `json:"problems"` // empty when ok
}

type problemJSON struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func newRulesCheckCmd(stdout io.Writer) *cobra.Command {
	var (
		limits  rules.Limits
		builtin bool
		output  outputFlag
	)
	check := &cobra.Command{
		Use:   "check [--builtin] FILE|DIR...",
		Short: "Load rule files exactly as `run --rules ... [--builtin]` does; print every problem and exit 1 if there are any",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if len(args) == 0 && !builtin {
				return errors.New("rules check: give rule files or directories (FILE|DIR...), or --builtin to check the built-in pack")
			}
			reg, err := offlineActions()
			if err != nil {
				return err
			}
			set, lerr := loadRulesLimited(reg, args, builtin, limits)
			rep := checkReport{OK: lerr == nil, Rules: []string{}, Problems: problemsOf(lerr)}
			if set != nil {
				for _, r := range set.Rules() {
					rep.Rules = append(rep.Rules, r.Name)
				}
			}
			switch {
			case output.format == "json":
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(stdout, string(b))
			case lerr != nil:
				fmt.Fprintln(stdout, lerr)
			default:
				fmt.Fprintf(stdout, "ok: %d rules\n", len(rep.Rules))
			}
			if lerr != nil {
				return exitError{code: 1}
			}
			return nil
		},
	}
	registerRuleLimits(check.Flags(), &limits)
	check.Flags().BoolVar(&builtin, "builtin", false, "load the built-in pack beside the files, as `run --builtin` does (e.g. with a file holding only your policy)")
	output.register(check.Flags(), "text", "json") // json: fields in README "Checking and testing rules offline"
	return check
}

// problemsOf lists a load error's problems; an error that is not a
// *rules.LoadError (a file that cannot be read) is one problem.
func problemsOf(err error) []problemJSON {
	out := []problemJSON{}
	if err == nil {
		return out
	}
	var le *rules.LoadError
	if errors.As(err, &le) {
		for _, p := range le.Problems {
			out = append(out, problemJSON{File: p.File, Line: p.Line, Column: p.Column, Rule: p.Rule, Field: p.Field, Message: p.Msg})
		}
		return out
	}
	p := problemJSON{Message: err.Error()}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		p.File = pe.Path
	}
	return append(out, p)
}
