package main

import (
	"github.com/spf13/pflag"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// registerRuleLimits adds --max-rule-file-bytes and --max-rules (also
// settable in the config file, like every run option) to a command that
// loads rules.
func registerRuleLimits(fs *pflag.FlagSet, l *rules.Limits) {
	*l = rules.DefaultLimits()
	fs.Int64Var(&l.FileBytes, "max-rule-file-bytes", l.FileBytes, "largest rule file, checked before it is read (0: no limit)")
	fs.IntVar(&l.Rules, "max-rules", l.Rules, "most rules in the set, over all files (0: no limit)")
}

// loadRulesLimited is loadRules under limits.
func loadRulesLimited(reg *action.Registry, paths []string, builtin bool, l rules.Limits) (*rules.Set, error) {
	switch {
	case len(paths) == 0:
		return rules.Builtin(reg)
	case builtin:
		return l.LoadWithBuiltin(reg, paths...)
	}
	return l.Load(reg, paths...)
}
