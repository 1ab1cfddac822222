package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

// evalResult is what the worker would make of one event before any cloud
// call. It is `rules eval -o json`, one object a line.
type evalResult struct {
	Origin string `json:"origin"` // the file, FILE:LINE of JSON Lines, FILE[i] of an array, - for stdin
	ID     string `json:"id,omitempty"`
	Source string `json:"source,omitempty"`
	Type   string `json:"type,omitempty"`
	Mode   string `json:"mode,omitempty"` // the CloudEvents content mode
	// Form is the event form recognised: actiontrail, config, cts,
	// finding (canonical), or none; Finding is the normalised finding
	// the rules see (null for none).
	Form      string          `json:"form,omitempty"`
	Finding   *events.Finding `json:"finding,omitempty"`
	Trusted   *bool           `json:"trusted,omitempty"`   // absent when the event did not get that far
	Untrusted string          `json:"untrusted,omitempty"` // why not
	Matches   []evalMatch     `json:"matches"`             // the rules that apply, in the order the worker runs them
	Missed    []evalMiss      `json:"not_matched"`         // every other enabled rule
	// Outcome is the event's: act, planned, out_of_scope, exempt,
	// no_match, untrusted, or dead_lettered with Reason invalid_event,
	// too_large, invalid_params or rule_error.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

type evalMatch struct {
	Rule     string            `json:"rule"`
	File     string            `json:"file"` // where the rule is written, FILE:LINE
	Action   string            `json:"action"`
	Params   map[string]string `json:"params"`             // after templating and policy lookups
	Resource string            `json:"resource,omitempty"` // the action's resource parameter's value
	// Outcome is rules.Match.Outcome, or not_reached for a rule after one
	// that dead-letters the event (the worker stops there).
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

type evalMiss struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"` // type, source, attributes or when
	Detail string `json:"detail"`
}

// evaluator answers, for one event at a time, what the worker configured
// by cfg with these rules would do, with the worker's own steps: decode,
// normalise, trust, evaluate.
type evaluator struct {
	cfg      worker.Config
	set      *rules.Set
	maxBytes int
}

func (ev evaluator) eval(ctx context.Context, in evalInput) evalResult {
	res := evalResult{Origin: in.origin, Matches: []evalMatch{}, Missed: []evalMiss{}}
	dead := func(reason audit.Outcome, detail string) evalResult {
		res.Outcome, res.Reason, res.Detail = string(audit.DeadLettered), string(reason), detail
		return res
	}
	if n := len(in.body); n > ev.maxBytes {
		return dead(audit.Outcome(audit.ReasonTooLarge), fmt.Sprintf("event is %d bytes, the limit is %d (--max-event-bytes)", n, ev.maxBytes))
	}
	env, err := events.DecodeFinding(ctx, events.StructuredHeader(), in.body, events.Normalizer{SelfPrincipals: ev.cfg.SelfPrincipals})
	if env == nil { // it does not decode
		return dead(audit.Outcome(audit.ReasonInvalidEvent), err.Error())
	}
	res.ID, res.Source, res.Type, res.Mode = env.Event.ID(), env.Event.Source(), env.Event.Type(), string(env.Mode)
	if err != nil { // it decodes, but its finding does not read
		res.Form = "invalid"
		return dead(audit.Outcome(audit.ReasonInvalidEvent), err.Error())
	}
	res.Form, res.Finding = "none", env.Finding
	if env.Finding != nil {
		res.Form = env.Finding.Form
	}
	why := worker.Untrusted(ev.cfg, env)
	trusted := why == ""
	res.Trusted, res.Untrusted = &trusted, why
	if !trusted {
		res.Outcome, res.Reason, res.Detail = string(audit.Untrusted), string(audit.ReasonUntrusted), why
		return res
	}
	for _, m := range ev.set.Misses(env) {
		res.Missed = append(res.Missed, evalMiss{Rule: m.Rule.Name, Reason: string(m.Reason), Detail: m.Detail})
	}
	ev.decide(&res, ev.set.Evaluate(env))
	return res
}

// decide reads the matches as the worker's handle does: rules in order,
// skips recorded, the first rule that cannot run dead-letters the event
// and the rules after it are not reached.
func (ev evaluator) decide(res *evalResult, ms []rules.Match) {
	if len(ms) == 0 {
		res.Outcome = string(audit.NoMatch)
		if res.Finding != nil && res.Finding.Self {
			res.Detail = "the change was made by one of the worker's own principals (--self-principal, finding.self): the built-in rules leave it alone"
		}
		return
	}
	stopped := false
	for _, m := range ms {
		em := evalMatch{Rule: m.Rule.Name, File: fmt.Sprintf("%s:%d", m.Rule.File, m.Rule.Line), Action: m.Rule.Action,
			Params: m.Params, Outcome: m.Outcome()}
		if em.Params == nil {
			em.Params = map[string]string{}
		}
		if rp := m.Rule.ResourceParam(); rp != "" {
			em.Resource = m.Params[rp]
		}
		switch {
		case stopped:
			em.Outcome, em.Detail = "not_reached", "an earlier rule dead-letters the event"
		case m.Err != nil:
			em.Detail, stopped = m.Err.Error(), true
			res.Outcome, res.Reason, res.Detail = string(audit.DeadLettered), em.Outcome, em.Detail
		case m.Skip != "":
			em.Detail = m.SkipReason
		case m.Rule.DryRun:
			em.Detail = "dry_run rule: the action reads the state and writes nothing"
		default:
			em.Detail = "the action reads the state and writes only if it differs"
		}
		res.Matches = append(res.Matches, em)
	}
	if !stopped {
		res.Outcome, res.Detail = eventOutcome(res.Matches)
	}
}

// eventOutcome sums up the matches of an event no rule dead-letters: act
// if any rule acts, else planned if any plans, else the first skip.
func eventOutcome(ms []evalMatch) (outcome, detail string) {
	for _, want := range []string{"act", "planned"} {
		var calls []string
		for _, m := range ms {
			if m.Outcome == want {
				calls = append(calls, m.Action)
			}
		}
		if len(calls) > 0 {
			return want, "the worker would call " + strings.Join(calls, ", ") + " (no cloud call was made here)"
		}
	}
	return ms[0].Outcome, ms[0].Detail
}

func newRulesEvalCmd(stdout io.Writer) *cobra.Command {
	var (
		wf     workerFlags
		output outputFlag
	)
	cmd := &cobra.Command{
		Use:   "eval EVENT.json|EVENTS.jsonl|- ...",
		Short: "Say what the worker would do with events, offline (no NATS, no cloud): form, finding, trust, every rule, the outcome before any cloud call",
		Long: "Reads CloudEvents in structured JSON (a file with one event, a JSON array, JSON Lines, or - for stdin) and, with the worker's own\n" +
			"decode, normalise, trust and rule evaluation, prints for each: the content mode, the form recognised and the normalised finding,\n" +
			"the trust check, every rule that matched (action and parameters after policy) and why each other rule did not, and the outcome\n" +
			"the worker would reach before calling the cloud. Exit 1 if an event would be dead-lettered or the input or rules cannot be read.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			reg, err := offlineActions()
			if err != nil {
				return err
			}
			set, err := loadRulesLimited(reg, wf.rules, wf.builtin, wf.ruleLimit)
			if err != nil {
				return fmt.Errorf("rules:\n%w", err)
			}
			ev := evaluator{cfg: wf.cfg, set: set, maxBytes: wf.cfg.MaxEventBytes}
			return runEval(cmd.Context(), cmd.InOrStdin(), stdout, ev, args, output.format)
		},
	}
	fs := cmd.Flags()
	// The run flags that decide what happens before the cloud, with run's
	// names, defaults and help, bound to a worker configuration as in run.
	runFlags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	wf.register(runFlags)
	for _, name := range []string{"rules", "builtin", "max-rule-file-bytes", "max-rules", "self-principal", "trusted-source", "trusted-account", "max-event-bytes"} {
		fs.AddFlag(runFlags.Lookup(name))
	}
	output.register(fs, "text", "json")
	return cmd
}

func runEval(ctx context.Context, stdin io.Reader, stdout io.Writer, ev evaluator, args []string, output string) error {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	failed := false
	var readErrs []error
	for _, arg := range args {
		ins, err := readEvalInput(arg, stdin)
		if err != nil {
			readErrs = append(readErrs, err)
			continue
		}
		for _, in := range ins {
			res := ev.eval(ctx, in)
			failed = failed || res.Outcome == string(audit.DeadLettered)
			if output == "json" {
				if err := enc.Encode(res); err != nil {
					return err
				}
				continue
			}
			printEval(stdout, res)
		}
	}
	if len(readErrs) > 0 {
		return errors.Join(readErrs...)
	}
	if failed {
		return exitError{code: 1}
	}
	return nil
}
