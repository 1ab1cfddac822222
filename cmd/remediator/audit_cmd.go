package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker/audit"
)

// tailOptions are audit tail's flags: which records, and how.
type tailOptions struct {
	n                int
	all, follow      bool
	outcomes         []string
	rule, sinceFlag  string
	since            time.Time
	out              outputFlag
	stream, subjects string // the audit stream and subject prefix
}

func newAuditCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail"}
	cf.register(cmd.PersistentFlags(), "audit-stream")
	var o tailOptions
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Print the last audit records (10; -n N), and with -f follow new ones",
		Long: "Prints the last 10 audit records, oldest first, and exits; -n N the last N, --all every one.\n" +
			"-f/--follow then keeps printing new records until interrupted (-n 0 -f: only new ones).\n" +
			"--outcome, --rule and --since select what is shown: -n 5 --outcome failed is the last five of those.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				o.stream, o.subjects = cf.cfg.AuditStream, cf.cfg.AuditSubject
				return cf.missing(tailAudit(ctx, stdout, cmd.ErrOrStderr(), c.js, o), "stream", cf.cfg.AuditStream, "--audit-stream")
			})
		},
	}
	fs := tail.Flags()
	fs.IntVarP(&o.n, "lines", "n", 10, "print the last N records (0: none, with -f only new ones)")
	fs.BoolVar(&o.all, "all", false, "print every record, from the oldest")
	fs.BoolVarP(&o.follow, "follow", "f", false, "keep printing new records until interrupted")
	fs.StringSliceVar(&o.outcomes, "outcome", nil, "only these outcomes (remediated, dead_lettered, ...; repeat or comma-separate)")
	fs.StringVar(&o.rule, "rule", "", "only this rule's records")
	fs.StringVar(&o.sinceFlag, "since", "", "only records stored since a duration ago (1h) or a time (RFC 3339)")
	fs.IntVar(&o.n, "count", 10, "the same as -n")
	_ = fs.MarkHidden("count") // cobra's MarkDeprecated would write its note to stdout, into -o json
	o.out.register(fs, "table", "json")
	cmd.AddCommand(tail)
	return cmd
}

// outcomes is every audit outcome, for checking --outcome.
var outcomes = []audit.Outcome{audit.Remediated, audit.AlreadyCompliant, audit.Planned, audit.NoMatch, audit.OutOfScope, audit.Untrusted,
	audit.Exempt, audit.DeadLettered, audit.Retrying, audit.Released, audit.Superseded, audit.CircuitOpen,
	audit.AwaitingApproval, audit.Denied, audit.ApprovalExpired}

func (o *tailOptions) check(cmd *cobra.Command) error {
	if err := o.out.check(); err != nil {
		return err
	}
	if cmd.Flags().Changed("count") {
		fmt.Fprintln(cmd.ErrOrStderr(), "remediator: audit tail --count N is now -n N: the last N records, then exit (-f to follow)")
	}
	if o.n < 0 {
		return fmt.Errorf("-n %d: want 0 or more", o.n)
	}
	if o.all && cmd.Flags().Changed("lines") {
		return errors.New("give --all (every record) or -n N (the last N), not both")
	}
	for _, oc := range o.outcomes {
		if !slices.Contains(outcomes, audit.Outcome(oc)) {
			names := make([]string, len(outcomes))
			for i, x := range outcomes {
				names[i] = string(x)
			}
			return fmt.Errorf("--outcome %s: no such outcome; the outcomes are %s", oc, strings.Join(names, ", "))
		}
	}
	var err error
	o.since, err = parseSince(o.sinceFlag)
	return err
}

// auditRec is one record read from the audit stream.
type auditRec struct {
	seq    uint64
	stored time.Time
	body   []byte
}

// tailAudit prints what o asks for. The last N are read backwards in
// windows of sequences, each twice the one before, starting with N: with
// no filter one window of N records is all it reads, with filters about
// as many as it takes to find N matching, never the whole stream when
// they are near the end. An outcome filter is applied by the server
// (records go to <subject>.<outcome>); the rule and --since here.
func tailAudit(ctx context.Context, w, stderr io.Writer, js jetstream.JetStream, o tailOptions) error {
	st, err := js.Stream(ctx, o.stream)
	if err != nil {
		return err
	}
	state := st.CachedInfo().State
	p := auditPrinter{w: w, json: o.out.format == "json"}
	p.header()
	shown := 0
	if state.Msgs > 0 && (o.all || o.n > 0) {
		var recs []auditRec
		if o.all {
			recs, err = readAudit(ctx, js, o, state.FirstSeq, state.LastSeq)
		} else {
			recs, err = lastAudit(ctx, js, o, state.FirstSeq, state.LastSeq)
		}
		if err != nil {
			return err
		}
		for _, r := range recs {
			p.print(r)
		}
		shown = len(recs)
	}
	if !o.follow {
		if shown == 0 && !p.json {
			fmt.Fprintf(stderr, "no audit records to show in %s (%d stored)\n", o.stream, state.Msgs)
		}
		return nil
	}
	return followAudit(ctx, js, o, state.LastSeq+1, p.print)
}

// lastAudit returns the last o.n records of [first, last] that o selects,
// oldest first.
func lastAudit(ctx context.Context, js jetstream.JetStream, o tailOptions, first, last uint64) ([]auditRec, error) {
	var got []auditRec
	window := uint64(o.n)
	for end := last; ; window *= 2 {
		start := first
		if end-first+1 > window {
			start = end - window + 1
		}
		part, oldest, err := readAuditOldest(ctx, js, o, start, end)
		if err != nil {
			return nil, err
		}
		got = append(part, got...)
		if len(got) >= o.n {
			return got[len(got)-o.n:], nil
		}
		// Records before one stored ahead of --since are older still.
		if start == first || !o.since.IsZero() && !oldest.IsZero() && oldest.Before(o.since) {
			return got, nil
		}
		end = start - 1
	}
}

func readAudit(ctx context.Context, js jetstream.JetStream, o tailOptions, from, to uint64) ([]auditRec, error) {
	recs, _, err := readAuditOldest(ctx, js, o, from, to)
	return recs, err
}

// readAuditOldest returns the records of [from, to] o selects, oldest
// first, and when the first record read (selected or not) was stored. It
// reads through an ephemeral consumer without acks: the server counts
// what is pending, so the read ends without waiting on a timeout.
func readAuditOldest(ctx context.Context, js jetstream.JetStream, o tailOptions, from, to uint64) (recs []auditRec, oldest time.Time, err error) {
	cc := jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		FilterSubjects: o.filter(), DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
	cons, err := js.CreateConsumer(ctx, o.stream, cc)
	if err != nil {
		return nil, oldest, err
	}
	defer func() { _ = js.DeleteConsumer(context.WithoutCancel(ctx), o.stream, cons.CachedInfo().Name) }()
	pending := cons.CachedInfo().NumPending
	var out []auditRec
	for read := uint64(0); read < pending; {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, oldest, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, oldest, err
			}
			if meta.Sequence.Stream > to {
				return out, oldest, nil
			}
			if oldest.IsZero() {
				oldest = meta.Timestamp
			}
			if r := (auditRec{seq: meta.Sequence.Stream, stored: meta.Timestamp, body: m.Data()}); o.keep(r) {
				out = append(out, r)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, oldest, err
		}
		if n == 0 {
			break // pending shrank under us: a record aged out
		}
		read += uint64(n)
	}
	return out, oldest, nil
}

// followAudit prints the records o selects from sequence from on, as they
// come, until ctx ends.
func followAudit(ctx context.Context, js jetstream.JetStream, o tailOptions, from uint64, print func(auditRec)) error {
	cons, err := js.OrderedConsumer(ctx, o.stream, jetstream.OrderedConsumerConfig{FilterSubjects: o.filter(),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if r := (auditRec{seq: meta.Sequence.Stream, stored: meta.Timestamp, body: m.Data()}); o.keep(r) {
			print(r)
		}
	}
}

// filter is the subjects of the outcomes asked for, nil for all.
func (o tailOptions) filter() []string {
	var f []string
	for _, oc := range o.outcomes {
		f = append(f, o.subjects+"."+oc)
	}
	return f
}

// keep applies the filters the server does not: --rule and --since.
func (o tailOptions) keep(r auditRec) bool {
	if !o.since.IsZero() && r.stored.Before(o.since) {
		return false
	}
	if o.rule == "" {
		return true
	}
	var ev struct {
		Data struct {
			Rule string `json:"rule"`
		} `json:"data"`
	}
	return json.Unmarshal(r.body, &ev) == nil && ev.Data.Rule == o.rule
}

// auditPrinter writes records as a table with a header line, or as JSON
// Lines: each line the audit CloudEvent as stored (its fields are in
// README, Exactly once, dead letters and the audit trail).
type auditPrinter struct {
	w    io.Writer
	json bool
}

const auditColumns = "%-20s  %-17s %-40s %-40s %s"

func (p auditPrinter) header() {
	if !p.json {
		fmt.Fprintln(p.w, strings.TrimRight(fmt.Sprintf(auditColumns, "TIME", "OUTCOME", "RULE", "ACTION", "DETAILS"), " "))
	}
}

func (p auditPrinter) print(r auditRec) {
	if !p.json {
		fmt.Fprintln(p.w, auditLine(r.body))
		return
	}
	var b bytes.Buffer
	if err := json.Compact(&b, r.body); err != nil {
		_ = writeJSONLine(p.w, map[string]any{"unreadable": err.Error(), "stream_sequence": r.seq})
		return
	}
	b.WriteByte('\n')
	_, _ = p.w.Write(b.Bytes())
}

// auditLine renders one audit CloudEvent as a line.
func auditLine(body []byte) string {
	var ev struct {
		Time string       `json:"time"`
		Data audit.Record `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "unreadable audit event: " + err.Error()
	}
	d := ev.Data
	t, _ := time.Parse(time.RFC3339Nano, ev.Time)
	line := fmt.Sprintf(auditColumns, t.UTC().Format("2006-01-02T15:04:05Z"), d.Outcome, d.Rule, d.Action, "resource="+dash(d.Resource))
	if d.Reason != "" {
		line += " reason=" + d.Reason
	}
	if d.Code != "" {
		line += " code=" + d.Code
	}
	if d.Before != "" || d.After != "" {
		line += fmt.Sprintf(" [%s -> %s]", d.Before, d.After)
	}
	return line + " event=" + d.Event.ID
}

func sortStrings(s []string) { sort.Strings(s) }
