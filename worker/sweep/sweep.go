package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// Status is what a sweep found of one resource and check.
type Status string

// The statuses of a row.
const (
	Compliant     Status = "compliant"
	NonCompliant  Status = "non_compliant"
	Unknown       Status = "unknown"        // it could not be read: Reason says why
	NotApplicable Status = "not_applicable" // no rule acts on it (no rule, out of scope, exempt, not rotatable)
)

// Row is one resource and check.
type Row struct {
	Check    string `json:"check"`
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Project  string `json:"project,omitempty"`
	Resource string `json:"resource"`
	Status   Status `json:"status"`
	State    string `json:"state,omitempty"` // the state read
	Want     string `json:"want,omitempty"`  // the state the rule's action would write
	Rule     string `json:"rule,omitempty"`
	Action   string `json:"action,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Remediable: non-compliant, and the rule's action would fix it (a
	// region with default encryption off is non-compliant and is not).
	Remediable bool `json:"remediable,omitempty"`

	finding events.Raw
}

// Summary counts one check's rows by status.
type Summary struct {
	Check         string `json:"check"`
	Compliant     int    `json:"compliant"`
	NonCompliant  int    `json:"non_compliant"`
	Unknown       int    `json:"unknown"`
	NotApplicable int    `json:"not_applicable"`
}

// Report is one sweep's result.
type Report struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Summary  []Summary `json:"summary"`
	Rows     []Row     `json:"rows"`
	// Truncated: the stored report kept only its non-compliant and
	// unknown rows (PutPosture), to fit a NATS message.
	Truncated bool `json:"truncated,omitempty"`
}

// Progress is how far a sweep is.
type Progress struct {
	Done, Total int
	Rate        float64       // targets a second so far
	Left        time.Duration // at that rate
}

// Sweeper runs sweeps.
type Sweeper struct {
	Rules      *rules.Set
	Actions    *action.Registry
	Inventory  Inventory // nil: no key listing, so no rotation check
	Scope      Scope
	Normalizer events.Normalizer
	// Source is the CloudEvents source of the findings (default
	// "remediator/sweep"); a worker run with --trusted-source must trust it.
	Source      string
	Concurrency int // targets read at once (default 8); pacing bounds the rate
	// Progress, when set, is called every ProgressEvery (default 5s)
	// while targets are read, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Now           func() time.Time
}

// DefaultSource is the findings' source unless Sweeper.Source says.
const DefaultSource = "remediator/sweep"

// Run sweeps once. id names the sweep and makes its findings' ids (a
// re-run of one id publishes the same ids). A read that fails makes its
// row unknown; Run fails only when ctx ends.
func (s *Sweeper) Run(ctx context.Context, id string) (*Report, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	rep := &Report{ID: id, Started: now()}
	ts, rows := targets(ctx, s.Rules.Policy(), s.Scope, s.Inventory)
	out := make([][]Row, len(ts))
	var done atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(1, cmp.Or(s.Concurrency, 8)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i] = s.check(ctx, id, ts[i], now())
				done.Add(1)
			}
		}()
	}
	stop := s.report(len(ts), &done, rep.Started, now)
	for _, i := range interleave(ts) {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sweep %s stopped after %d of %d resources: %w", id, done.Load(), len(ts), err)
	}
	for _, r := range out {
		rows = append(rows, r...)
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(slices.Index(Checks, a.Check), slices.Index(Checks, b.Check)),
			cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Resource, b.Resource))
	})
	rep.Rows, rep.Summary, rep.Finished = rows, summarize(rows), now()
	return rep, nil
}

// report calls Progress every ProgressEvery until the returned stop.
func (s *Sweeper) report(total int, done *atomic.Int64, start time.Time, now func() time.Time) (stop func()) {
	if s.Progress == nil {
		return func() {}
	}
	at := func() Progress {
		d := int(done.Load())
		p := Progress{Done: d, Total: total}
		if el := now().Sub(start).Seconds(); el > 0 && d > 0 {
			p.Rate = float64(d) / el
			p.Left = time.Duration(float64(total-d) / p.Rate * float64(time.Second))
		}
		return p
	}
	t := time.NewTicker(cmp.Or(s.ProgressEvery, 5*time.Second))
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-t.C:
				s.Progress(at())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		t.Stop()
		close(quit)
		<-ended
		s.Progress(at())
	}
}

// check judges one target as the worker would judge an event about it:
// the rules say which action applies, and the action's dry run reads the
// state and says whether it would write.
func (s *Sweeper) check(ctx context.Context, id string, t Target, at time.Time) []Row {
	base := Row{Check: t.Check, Provider: t.Provider, Account: t.Account, Region: t.Region, Project: t.Project, Resource: t.ResourceID}
	raw, err := t.finding(id, cmp.Or(s.Source, DefaultSource), at)
	if err != nil {
		return []Row{base.with(Unknown, "building its finding: "+err.Error())}
	}
	env, err := events.DecodeFinding(ctx, events.StructuredHeader(), raw.Body, s.Normalizer)
	if err != nil {
		return []Row{base.with(Unknown, "its finding does not read: "+err.Error())}
	}
	matches := s.Rules.Evaluate(env)
	if len(matches) == 0 {
		return []Row{base.with(NotApplicable, "no rule acts on "+raw.Type)}
	}
	rows := make([]Row, 0, len(matches))
	for _, m := range matches {
		r := base
		r.Rule, r.Action, r.finding = m.Rule.Name, m.Rule.Action, raw
		rows = append(rows, s.judge(ctx, r, m, raw.ID))
	}
	return rows
}

// judge runs the matched rule's action as a dry run.
func (s *Sweeper) judge(ctx context.Context, r Row, m rules.Match, eventID string) Row {
	switch {
	case m.Err != nil:
		return r.with(Unknown, m.Err.Error())
	case m.Skip != "":
		return r.with(NotApplicable, string(m.Skip)+": "+m.SkipReason)
	}
	act, ok := s.Actions.Get(m.Rule.Action)
	if !ok {
		return r.with(Unknown, "no action "+m.Rule.Action)
	}
	// Paced as the worker paces it: the provider's, account's and region's
	// buckets (without a scope every region would share one).
	ctx = action.WithActionScope(ctx, m.Rule.Action, m.Params)
	res, err := act.Ensure(ctx, action.Request{Params: m.Params, DryRun: true, EventID: eventID})
	var ae *action.Error
	switch {
	case err == nil && res.Planned:
		r.State, r.Want, r.Remediable = res.Before, res.After, true
		return r.with(NonCompliant, "")
	case err == nil:
		r.State = res.Before
		return r.with(Compliant, "")
	case !errors.As(err, &ae):
		return r.with(Unknown, err.Error())
	case ae.Reason == action.ReasonEncryptionOff:
		return r.with(NonCompliant, err.Error()+" (the rule's action does not turn it on)")
	case ae.Reason == action.ReasonNotRotatable || ae.Reason == action.ReasonRefused:
		return r.with(NotApplicable, err.Error())
	}
	return r.with(Unknown, err.Error())
}

// interleave orders the targets' indexes round-robin over their provider,
// account and region: each has its own pacing buckets, so the readers
// keep every region busy instead of queueing at one region's bucket.
func interleave(ts []Target) []int {
	var groups [][]int
	at := map[[3]string]int{}
	for i, t := range ts {
		k := [3]string{t.Provider, t.Account, t.Region}
		g, ok := at[k]
		if !ok {
			g = len(groups)
			at[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	out := make([]int, 0, len(ts))
	for n := 0; len(out) < len(ts); n++ {
		for _, g := range groups {
			if n < len(g) {
				out = append(out, g[n])
			}
		}
	}
	return out
}

func (r Row) with(s Status, reason string) Row {
	r.Status, r.Reason = s, reason
	return r
}

// Findings are the events a non-compliant, remediable row publishes.
func (r *Report) Findings() []events.Raw {
	var out []events.Raw
	for _, row := range r.Rows {
		if row.Status == NonCompliant && row.Remediable {
			out = append(out, row.finding)
		}
	}
	return out
}

func summarize(rows []Row) []Summary {
	out := make([]Summary, len(Checks))
	for i, c := range Checks {
		out[i].Check = c
	}
	for _, r := range rows {
		i := slices.Index(Checks, r.Check)
		if i < 0 {
			continue
		}
		switch r.Status {
		case Compliant:
			out[i].Compliant++
		case NonCompliant:
			out[i].NonCompliant++
		case Unknown:
			out[i].Unknown++
		case NotApplicable:
			out[i].NotApplicable++
		}
	}
	return out
}
