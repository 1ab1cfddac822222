package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
)

func newRulesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Check, test and describe rule files"}
	var checkLimits, testLimits rules.Limits
	check := &cobra.Command{
		Use:   "check PATH...",
		Short: "Load rule files as the worker would; print every problem and exit 1 if there are any",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := buildActions(providerConfig{cloudEndpoint: "http://127.0.0.1:0"}, zap.NewNop())
			if err != nil {
				return err
			}
			set, err := checkLimits.Load(reg, args...)
			if err != nil {
				fmt.Fprintln(stdout, err)
				return exitError{code: 1}
			}
			fmt.Fprintf(stdout, "ok: %d rules\n", len(set.Rules()))
			return nil
		},
	}
	registerRuleLimits(check.Flags(), &checkLimits)
	test := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run rule test files (or every *.yaml in a directory) offline: no NATS, no cloud",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRuleTests(stdout, args, testLimits)
		},
	}
	registerRuleLimits(test.Flags(), &testLimits)
	cmd.AddCommand(check, test)
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print a JSON Schema of the rule format, for editors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := buildActions(providerConfig{cloudEndpoint: "http://127.0.0.1:0"}, zap.NewNop())
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

func runRuleTests(stdout io.Writer, args []string, limits rules.Limits) error {
	reg, err := buildActions(providerConfig{cloudEndpoint: "http://127.0.0.1:0"}, zap.NewNop())
	if err != nil {
		return err
	}
	files, err := rules.TestFilesIn(args...)
	if err != nil {
		return err
	}
	results, err := limits.RunTestFiles(reg, files...)
	failed := 0
	for _, r := range results {
		status := "PASS"
		if !r.Passed() {
			status, failed = "FAIL", failed+1
		}
		fmt.Fprintf(stdout, "%s  %s: %s\n", status, r.File, r.Name)
		for _, p := range r.Plan {
			fmt.Fprintf(stdout, "      plan: %s\n", p)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(stdout, "      %s\n", f)
		}
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		return exitError{code: 1}
	}
	fmt.Fprintf(stdout, "%d cases, %d failed\n", len(results), failed)
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}
