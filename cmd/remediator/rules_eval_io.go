package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// evalInput is one event's bytes and where they came from.
type evalInput struct {
	origin string
	body   []byte
}

// maxEvalInput bounds what eval reads from one file or stdin.
const maxEvalInput = 256 << 20

// readEvalInput reads the events of a file, or of stdin for "-": one
// event, a JSON array of events, or JSON Lines (by the extension .jsonl or
// .ndjson, or when the first line is a whole JSON object of several).
// Bytes that are none of these are one event, which then fails to decode
// with the reason.
func readEvalInput(arg string, stdin io.Reader) ([]evalInput, error) {
	origin, r := arg, io.Reader(nil)
	if arg == "-" {
		r = stdin
	} else {
		f, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("cannot read the event file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxEvalInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the events: %w", origin, err)
	}
	if len(b) > maxEvalInput {
		return nil, fmt.Errorf("%s: more than %d bytes: split it, or use `remediator replay` against a worker in --dry-run", origin, maxEvalInput)
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, fmt.Errorf("%s: empty: want one CloudEvent in structured JSON, a JSON array of them, or JSON Lines", origin)
	}
	ext := strings.ToLower(filepath.Ext(arg))
	lines := ext == ".jsonl" || ext == ".ndjson" || !json.Valid(t) && firstLineIsObject(t)
	switch {
	case lines:
		return splitLines(origin, t), nil
	case t[0] == '[' && json.Valid(t):
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		out := make([]evalInput, len(items))
		for i, it := range items {
			out[i] = evalInput{origin: fmt.Sprintf("%s[%d]", origin, i), body: it}
		}
		return out, nil
	}
	return []evalInput{{origin: origin, body: t}}, nil
}

func firstLineIsObject(t []byte) bool {
	first, _, more := bytes.Cut(t, []byte("\n"))
	first = bytes.TrimSpace(first)
	return more && len(first) > 0 && first[0] == '{' && json.Valid(first)
}

// splitLines makes one input per non-blank line, named FILE:LINE.
func splitLines(origin string, t []byte) []evalInput {
	var out []evalInput
	for i, line := range bytes.Split(t, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, evalInput{origin: fmt.Sprintf("%s:%d", origin, i+1), body: line})
		}
	}
	return out
}

// The forms' names for people.
var formNames = map[string]string{
	"actiontrail": "Alibaba ActionTrail API call",
	"config":      "Alibaba Cloud Config non-compliance",
	"cts":         "Huawei CTS trace",
	"finding":     "canonical finding (remediator.finding.*)",
	"none":        "no known form: rules see event and data; every finding field is empty",
	"invalid":     "claims a known form but cannot be read as it",
}

// printEval writes one result for people.
func printEval(w io.Writer, r evalResult) {
	fmt.Fprintf(w, "== %s\n", r.Origin)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-10s%s\n", k, fmt.Sprintf(format, args...)) }
	if r.ID != "" {
		row("event", "id %s, source %s, type %s", r.ID, r.Source, r.Type)
		row("mode", "%s", r.Mode)
	}
	if r.Form != "" {
		row("form", "%s: %s", r.Form, formNames[r.Form])
	}
	if f := r.Finding; f != nil {
		row("finding", "provider %s, account %s, region %s, project %s", dash(f.Provider), dash(f.Account), dash(f.Region), dash(f.Project))
		row("", "resource %s %s, drift %s, operation %s", dash(f.ResourceType), dash(f.ResourceID), dash(f.Drift), dash(f.Operation))
		row("", "actor %s %s (id %s), self %v", dash(f.Actor.Type), dash(f.Actor.Name), dash(f.Actor.ID), f.Self)
	}
	if r.Trusted != nil {
		if *r.Trusted {
			row("trust", "ok")
		} else {
			row("trust", "untrusted: %s", r.Untrusted)
		}
	}
	for _, m := range r.Matches {
		row("match", "%s (%s) -> %s(%s): %s", m.Rule, m.File, m.Action, paramList(m.Params), m.Outcome)
		if m.Detail != "" {
			row("", "  %s", m.Detail)
		}
	}
	otherTypes := 0
	for _, m := range r.Missed {
		if m.Reason == "type" {
			otherTypes++
			continue
		}
		row("no match", "%s: %s: %s", m.Rule, m.Reason, m.Detail)
	}
	if otherTypes > 0 {
		row("no match", "%d rules are for other event types", otherTypes)
	}
	out := r.Outcome
	if r.Reason != "" && r.Reason != r.Outcome {
		out += " (" + r.Reason + ")"
	}
	if r.Detail != "" {
		out += ": " + r.Detail
	}
	row("outcome", "%s", out)
	fmt.Fprintln(w)
}

func paramList(p map[string]string) string {
	parts := make([]string, 0, len(p))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, ", ")
}
