package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/huawei"
	"github.com/remediator/remediator/worker/sweep"
)

// sweepResult is one run of `remediator sweep`.
type sweepResult struct {
	paced      bool
	wall, took time.Duration            // the process from start to exit; the sweep's own Started to Finished
	status     map[sweep.Status]int     // rows by status
	calls      map[string]int           // the simulator's calls by API
	kms        map[string]int           // KMS calls by region (each region's bucket)
	spans      map[string]time.Duration // each region's first check call's start to its last one's end (list-keys aside)
	all        time.Duration            // the first check call's start to the last one's end
	listing    time.Duration            // the first list-keys call's start to the last one's end
	failed     int                      // calls answered other than 2xx
	cpu        time.Duration            // the sweep process's, user and system
	rssKiB     int64                    // its peak RSS
	simCPU     time.Duration            // this process's (the simulator's) during the run
}

// kmsRate is the rate a region's KMS bucket is paced at by default.
func kmsRate() (perSecond float64, burst int) {
	r := huawei.DocumentedRates()["kms"]
	return r.PerSecond, r.Burst
}

// bound is the pacing bound: buckets of different regions run in
// parallel, so it is the most calls one region's bucket had to make,
// less its burst, over its rate.
func (r sweepResult) bound() time.Duration {
	per, burst := kmsRate()
	most := slices.Max(slices.Collect(maps.Values(r.kms)))
	return time.Duration(float64(max(0, most-burst)) / per * float64(time.Second))
}

// serialBound is the time the calls would take at the bucket's rate with
// one region's bucket in use at a time.
func (r sweepResult) serialBound() time.Duration {
	per, burst := kmsRate()
	var d time.Duration
	for _, n := range r.kms {
		d += time.Duration(float64(max(0, n-burst)) / per * float64(time.Second))
	}
	return d
}

// atOnce is how many regions were called at once on average while keys
// were checked: the regions' spans of check calls added up, over the span
// of every check call (1: one region after another, so at most one
// region's bucket busy). The listing (list-keys), which comes first, is
// left out.
func (r sweepResult) atOnce() float64 {
	var sum time.Duration
	for _, s := range r.spans {
		sum += s
	}
	return sum.Seconds() / r.all.Seconds()
}

func (r sweepResult) totalCalls() int {
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r sweepResult) rows() int {
	n := 0
	for _, c := range r.status {
		n += c
	}
	return n
}

func (r sweepResult) String() string {
	var calls []string
	for _, op := range slices.Sorted(maps.Keys(r.calls)) {
		calls = append(calls, fmt.Sprintf("%s %d", op, r.calls[op]))
	}
	s := fmt.Sprintf("%s: %d rows (%d compliant, %d non_compliant, %d unknown) as expected; wall %s (sweep %s); calls: %s; listing %s; "+
		"regions called at once %.1f; sweep CPU %s, peak RSS %d kB; simulator CPU %s",
		pacedName(r.paced), r.rows(), r.status[sweep.Compliant], r.status[sweep.NonCompliant], r.status[sweep.Unknown],
		secs(r.wall), secs(r.took), strings.Join(calls, ", "), secs(r.listing), r.atOnce(), secs(r.cpu), r.rssKiB, secs(r.simCPU))
	if r.paced {
		s += fmt.Sprintf("; pacing bound %s (wall/bound %.2f), one region at a time %s", secs(r.bound()), r.wall.Seconds()/r.bound().Seconds(), secs(r.serialBound()))
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// judge checks the report against the estate: a row for every enabled
// rotatable key and for nothing else, each with the status its rotation
// says, none unknown.
func (r *sweepResult) judge(rep *sweep.Report, est sweepEstate) error {
	r.status = map[sweep.Status]int{}
	seen := make(map[string]bool, len(est.want))
	var problems []string
	for _, row := range rep.Rows {
		r.status[row.Status]++
		want, ok := est.want[row.Resource]
		switch {
		case row.Check != sweep.CheckHuaweiKMSRotation || !ok:
			problems = append(problems, fmt.Sprintf("a row no key calls for: %s %s %s %s", row.Check, row.Region, row.Resource, row.Status))
		case seen[row.Resource]:
			problems = append(problems, "two rows for key "+row.Resource)
		case row.Status != want:
			problems = append(problems, fmt.Sprintf("key %s (%s): %s, want %s %s", row.Resource, row.Region, row.Status, want, row.Reason))
		}
		seen[row.Resource] = true
	}
	for id := range est.want {
		if !seen[id] {
			problems = append(problems, "no row for key "+id)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return fmt.Errorf("the report (%d rows) disagrees with the seed (%d enabled rotatable keys) in %d ways, first: %s",
		len(rep.Rows), len(est.want), len(problems), strings.Join(problems[:min(5, len(problems))], "; "))
}

// countCalls reads the simulator's call log: calls by API, KMS calls and
// their span by region, the listing's span, calls that failed.
func (r *sweepResult) countCalls(calls []cloudsim.Call, est sweepEstate) {
	r.calls, r.kms, r.spans = map[string]int{}, map[string]int{}, map[string]time.Duration{}
	first, last := map[string]time.Time{}, map[string]time.Time{}
	var from, to, listFrom, listTo time.Time
	for _, c := range calls {
		r.calls[c.Op]++
		if !c.Done || c.Status/100 != 2 {
			r.failed++
		}
		end := cmp.Or(c.End, c.Start)
		if !strings.HasPrefix(c.Op, "kms.") {
			continue
		}
		region := est.region(c.Project)
		r.kms[region]++
		if c.Op == "kms.list-keys" {
			listFrom, listTo = earliest(listFrom, c.Start), latest(listTo, end)
			continue
		}
		from, to = earliest(from, c.Start), latest(to, end)
		first[region], last[region] = earliest(first[region], c.Start), latest(last[region], end)
	}
	for region := range first {
		r.spans[region] = last[region].Sub(first[region])
	}
	r.all, r.listing = to.Sub(from), listTo.Sub(listFrom)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// printSweepBench prints the table: per mode, the runs' medians and ranges.
func printSweepBench(w io.Writer, o sweepOptions, est sweepEstate, runs []sweepResult) {
	per, burst := kmsRate()
	nc := 0
	for _, s := range est.want {
		if s == sweep.NonCompliant {
			nc++
		}
	}
	conc := cmp.Or(o.concurrency, 8)
	fmt.Fprintf(w, "\nsweep: remediator sweep (--concurrency %d) as its own process, the simulator in this process; %d keys over %d projects, a region each; "+
		"%d enabled rotatable (%d with rotation off); KMS paced at %g/s burst %d per region; %d round(s), median (min-max)\n",
		conc, o.keys, o.projects, len(est.want), nc, per, burst, o.rounds)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pacing\twall\tsweep\tcalls\tpacing bound\twall/bound\tregions at once\tlisting\tsweep CPU\tpeak RSS\tsimulator CPU")
	for _, paced := range []bool{true, false} {
		var rs []sweepResult
		for _, r := range runs {
			if r.paced == paced {
				rs = append(rs, r)
			}
		}
		pick := func(f func(sweepResult) float64) []float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return v
		}
		s := func(f func(sweepResult) time.Duration) string {
			return spread(pick(func(r sweepResult) float64 { return f(r).Seconds() }), "%.2fs")
		}
		bound, ratio := "-", "-"
		if paced {
			bound = spreadOrOne(pick(func(r sweepResult) float64 { return r.bound().Seconds() }), "%.2fs")
			ratio = spread(pick(func(r sweepResult) float64 { return r.wall.Seconds() / r.bound().Seconds() }), "%.2f")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", map[bool]string{true: "on", false: "off"}[paced],
			s(func(r sweepResult) time.Duration { return r.wall }), s(func(r sweepResult) time.Duration { return r.took }),
			spreadOrOne(pick(func(r sweepResult) float64 { return float64(r.totalCalls()) }), "%.0f"), bound, ratio,
			spread(pick(sweepResult.atOnce), "%.1f"), s(func(r sweepResult) time.Duration { return r.listing }),
			s(func(r sweepResult) time.Duration { return r.cpu }),
			spread(pick(func(r sweepResult) float64 { return float64(r.rssKiB) / 1024 }), "%.0f MiB"),
			s(func(r sweepResult) time.Duration { return r.simCPU }))
	}
	_ = tw.Flush()
	printReaders(w, runs, conc, len(est.want), o.projects)
}

// printReaders says whether the sweep's readers could keep every region's
// bucket busy: each region's bucket takes calls at its rate, a target
// costs some calls, and a reader holds a target for as long as the
// unpaced run spent on one per reader.
func printReaders(w io.Writer, runs []sweepResult, conc, targets, regions int) {
	per, _ := kmsRate()
	var hold, callsPer []float64
	for _, r := range runs {
		if !r.paced {
			hold = append(hold, float64(conc)*r.took.Seconds()/float64(targets))
			callsPer = append(callsPer, float64(r.totalCalls()-r.calls["kms.list-keys"])/float64(targets))
		}
	}
	slices.Sort(hold)
	slices.Sort(callsPer)
	h, c := hold[len(hold)/2], callsPer[len(callsPer)/2]
	need := float64(regions) * per / c * h
	fmt.Fprintf(w, "readers: %d regions x %g calls/s / %.2f calls per key x %.1f ms per key per reader (not paced, median) = %.1f readers needed to keep every bucket busy; --concurrency %d\n",
		regions, per, c, 1000*h, need, conc)
}
