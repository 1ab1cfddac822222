package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration comes from three places, flags winning over the
// environment, which wins over the file: every flag of `run` is also a
// config-file key (dashes as underscores: max_deliver) and an environment
// variable (REMEDIATOR_MAX_DELIVER). List flags take YAML lists or
// comma-separated text.

func envName(flag string) string {
	return "REMEDIATOR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets the flags not given on the command line from REMEDIATOR_*.
func applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// configEntry is one key of a configuration file and where it is.
type configEntry struct {
	key, value  string // the key as written; the value as a flag takes it
	err         error  // a value that is neither a scalar nor a list
	line, col   int    // of the key
	vline, vcol int    // of the value
}

// readConfigFile reads the YAML mapping of option: value at path.
func readConfigFile(path string) ([]configEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the configuration must be a mapping of option: value", path, top.Line)
	}
	var out []configEntry
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		val, err := scalarOrList(v)
		out = append(out, configEntry{key: k.Value, value: val, err: err, line: k.Line, col: k.Column, vline: v.Line, vcol: v.Column})
	}
	return out, nil
}

// applyConfigFile sets the flags still unset from the YAML file. Unknown
// keys and bad values are errors with file:line.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	entries, err := readConfigFile(path)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := strings.ReplaceAll(e.key, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: unknown option", path, e.line, e.col, e.key))
			continue
		}
		err := e.err
		if err == nil && !f.Changed {
			err = fs.Set(name, e.value)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: %v", path, e.vline, e.vcol, e.key, err))
		}
	}
	return errors.Join(errs...)
}

func scalarOrList(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, nil
	case yaml.SequenceNode:
		items := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode {
				return "", errors.New("list items must be scalars")
			}
			items = append(items, it.Value)
		}
		return strings.Join(items, ","), nil
	}
	return "", errors.New("must be a scalar or a list")
}

// configure applies the environment and the --config file to a command's
// unset flags.
func configure(cmd *cobra.Command) error {
	fs := cmd.Flags()
	if err := applyEnv(fs); err != nil {
		return err
	}
	if path, _ := fs.GetString("config"); path != "" {
		return applyConfigFile(fs, path)
	}
	return nil
}

func newConfigCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check a configuration file and list the options"}
	cmd.AddCommand(&cobra.Command{
		Use: "check FILE", Short: "Validate a configuration file for `run`; print every problem with file:line and exit 1", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			fs := newRunCmd(io.Discard).Flags()
			if err := applyConfigFile(fs, args[0]); err != nil {
				fmt.Fprintln(stdout, err)
				return exitError{code: 1}
			}
			fmt.Fprintln(stdout, "ok")
			return nil
		},
	})
	var out outputFlag
	options := &cobra.Command{
		Use: "options", Short: "List every option: config key, environment variable, default (-o table, json or yaml)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			rows := []optionOut{}
			newRunCmd(io.Discard).Flags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "config" {
					rows = append(rows, optionOut{Key: strings.ReplaceAll(f.Name, "-", "_"), Flag: "--" + f.Name, Env: envName(f.Name), Default: f.DefValue, Usage: f.Usage})
				}
			})
			sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
			if out.format != "table" {
				return out.write(stdout, rows)
			}
			tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tENVIRONMENT\tDEFAULT\tMEANING")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%q\t%s\n", r.Key, r.Env, r.Default, r.Usage)
			}
			return tw.Flush()
		},
	}
	out.register(options.Flags(), "table", "json", "yaml")
	cmd.AddCommand(options)
	return cmd
}

// optionOut is one option of `config options` in -o json and yaml.
type optionOut struct {
	Key     string `json:"key"`
	Flag    string `json:"flag"`
	Env     string `json:"env"`
	Default string `json:"default"`
	Usage   string `json:"usage"`
}
