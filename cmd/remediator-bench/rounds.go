package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"syscall"
	"time"
)

// benchRatios runs the ceiling, the record floor and the no-write worker
// (those selected) in turn for o.rounds rounds, each part on a fresh
// server. The machine's speed drifts over a minute by more than the
// differences measured, so each part is reported at its median round and
// its ratio as the median of the rounds' ratios to that round's ceiling;
// the rounds are printed first.
func benchRatios(ctx context.Context, w io.Writer, o benchOptions) ([]benchResult, float64, error) {
	type part struct {
		key, name string
		run       func() (benchResult, error)
	}
	var parts []part
	for _, p := range []part{
		{"ceiling", "DoubleAck ceiling (plain jetstream consumer)", func() (benchResult, error) { return benchCeiling(ctx, o, false) }},
		{"record", "publish a record, then DoubleAck (plain consumer)", func() (benchResult, error) { return benchCeiling(ctx, o, true) }},
		{"nowrite", "worker, no write (already compliant)", func() (benchResult, error) {
			return benchWorker(ctx, o, workerRun{n: o.events, resources: o.resources, compliant: true})
		}},
	} {
		if o.runs(p.key) {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, 0, nil
	}
	rounds := max(1, o.rounds)
	got := make([][]benchResult, len(parts)) // got[part][round]
	for round := range rounds {
		line := fmt.Sprintf("round %d/%d:", round+1, rounds)
		for i, p := range parts {
			r, err := p.run()
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", p.name, err)
			}
			got[i] = append(got[i], r)
			line += fmt.Sprintf(" %s %.0f/s", p.key, r.rate)
			if parts[0].key == "ceiling" && i > 0 {
				line += fmt.Sprintf(" (%.0f%%)", 100*r.rate/got[0][round].rate)
			}
		}
		fmt.Fprintln(w, line)
	}
	var results []benchResult
	for i, p := range parts {
		rs := slices.Clone(got[i])
		slices.SortFunc(rs, func(a, b benchResult) int { return cmp.Compare(a.rate, b.rate) })
		r := rs[len(rs)/2]
		r.name = p.name
		if parts[0].key == "ceiling" {
			ratios := make([]float64, rounds)
			for round := range rounds {
				ratios[round] = got[i][round].rate / got[0][round].rate
			}
			slices.Sort(ratios)
			r.note = fmt.Sprintf("%.0f%%", 100*ratios[len(ratios)/2])
			if rounds > 1 && i > 0 {
				r.note += fmt.Sprintf(" (%.0f-%.0f)", 100*ratios[0], 100*ratios[len(ratios)-1])
			}
		}
		results = append(results, r)
	}
	ceiling := 0.0
	if parts[0].key == "ceiling" {
		ceiling = results[0].rate
	}
	return results, ceiling, nil
}

// usage is the whole process's CPU time and heap allocations so far.
type usage struct {
	cpu    time.Duration
	allocs uint64
}

func usageNow() usage {
	var u usage
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u.allocs = ms.Mallocs
	return u
}

// since is the CPU time and allocations per event since u0, over n events.
func (u usage) since(u0 usage, n int) (time.Duration, float64) {
	return (u.cpu - u0.cpu) / time.Duration(n), float64(u.allocs-u0.allocs) / float64(n)
}
