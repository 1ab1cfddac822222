package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/approval"
)

// newApprovalsCmd lists, shows, approves and denies the plans of actions
// that wait for approval (README, Approvals).
func newApprovalsCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	var out outputFlag
	var as, comment string
	cmd := &cobra.Command{Use: "approvals", Short: "List, show, approve or deny the actions waiting for approval"}
	cf.register(cmd.PersistentFlags(), "stream", "subject")
	out.register(cmd.PersistentFlags(), "table", "json", "yaml")
	run := func(f func(cmd *cobra.Command, ap *approvals) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				ap, err := openApprovals(cmd.Context(), c.js, cf.cfg)
				if err != nil {
					return err
				}
				return f(cmd, ap)
			})
		}
	}
	list := &cobra.Command{Use: "list", Short: "List the approvals, pending first", Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, ap *approvals) error {
			ps, err := ap.store.List(cmd.Context())
			if err != nil {
				return err
			}
			if out.format != "table" {
				if ps == nil {
					ps = []approval.Plan{}
				}
				return out.write(stdout, ps)
			}
			return writePlans(stdout, ps)
		})}
	var id string
	one := func(f func(cmd *cobra.Command, ap *approvals) (approval.Plan, error)) func(*cobra.Command, []string) error {
		return run(func(cmd *cobra.Command, ap *approvals) error {
			p, err := f(cmd, ap)
			if err != nil {
				return err
			}
			if out.format != "table" {
				return out.write(stdout, p)
			}
			return writePlan(stdout, p)
		})
	}
	show := &cobra.Command{Use: "show ID", Short: "Show one approval's plan", Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: one(func(cmd *cobra.Command, ap *approvals) (approval.Plan, error) {
			p, _, err := ap.store.Get(cmd.Context(), id)
			return p, explainApproval(err)
		})}
	approve := &cobra.Command{Use: "approve ID", Short: "Approve an action (--as NAME, default $USER; --comment TEXT)", Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: one(func(cmd *cobra.Command, ap *approvals) (approval.Plan, error) {
			return ap.decide(cmd.Context(), id, true, as, comment)
		})}
	deny := &cobra.Command{Use: "deny ID", Short: "Deny an action: it never runs (--as NAME, --comment TEXT)", Args: cobra.ExactArgs(1),
		PreRun: func(_ *cobra.Command, args []string) { id = args[0] },
		RunE: one(func(cmd *cobra.Command, ap *approvals) (approval.Plan, error) {
			return ap.decide(cmd.Context(), id, false, as, comment)
		})}
	for _, c := range []*cobra.Command{approve, deny} {
		c.Flags().StringVar(&as, "as", os.Getenv("USER"), "who approves or denies (default $USER); never the principal who caused the drift")
		c.Flags().StringVar(&comment, "comment", "", "a comment for the audit record")
	}
	cmd.AddCommand(list, show, approve, deny)
	return cmd
}

// approvals is the plan store and where decisions are announced.
type approvals struct {
	store   *approval.Store
	js      jetstream.JetStream
	subject string
}

func openApprovals(ctx context.Context, js jetstream.JetStream, cfg worker.Config) (*approvals, error) {
	cfg = cfg.WithDefaults()
	kv, err := js.KeyValue(ctx, cfg.ApprovalsBucket)
	if err != nil {
		return nil, fmt.Errorf("approvals: open KV bucket %s: %w (start `remediator run` once to create it, or provision deploy/jetstream)", cfg.ApprovalsBucket, err)
	}
	return &approvals{store: approval.NewStore(kv, nil), js: js, subject: cfg.Streams().IntakeSubject(approval.Source)}, nil
}

// decide approves or denies; a plan that becomes approved or denied is
// announced to the workers.
func (a *approvals) decide(ctx context.Context, id string, approve bool, as, comment string) (approval.Plan, error) {
	var p approval.Plan
	var err error
	if approve {
		p, err = a.store.Approve(ctx, id, as, comment)
	} else {
		p, err = a.store.Deny(ctx, id, as, comment)
	}
	if err != nil {
		return p, explainApproval(err)
	}
	if p.State == approval.Approved || p.State == approval.Denied {
		if err := approval.Announce(ctx, a.js, a.subject, p); err != nil {
			return p, fmt.Errorf("%w (the decision is stored; a worker announces it again within --approval-check)", err)
		}
	}
	return p, nil
}

// explainApproval adds what to do to the store's refusals.
func explainApproval(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, approval.ErrNotFound):
		return fmt.Errorf("%w (`remediator approvals list` lists them)", err)
	case errors.Is(err, approval.ErrExpired), errors.Is(err, approval.ErrSettled):
		return fmt.Errorf("%w: nothing changed; a new event about the resource opens a new approval", err)
	case errors.Is(err, approval.ErrActor):
		return fmt.Errorf("%w: ask someone else to approve", err)
	case errors.Is(err, approval.ErrVoted):
		return fmt.Errorf("%w: each approver counts once; another person must approve (`remediator approvals show ID` says how many more)", err)
	}
	return err
}

func writePlans(w io.Writer, ps []approval.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRULE\tRESOURCE\tAPPROVALS\tEXPIRES\tACTOR")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", p.ID, p.State, p.Rule, p.Resource, len(p.Approvals), p.Approvers,
			p.Expires.Format(time.RFC3339), firstNonEmpty(p.Actor.Name, p.Actor.ID))
	}
	return tw.Flush()
}

func writePlan(w io.Writer, p approval.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("id", p.ID)
	row("state", string(p.State))
	row("rule", p.Rule)
	row("action", p.Action)
	row("resource", p.Resource)
	row("before", p.Before)
	row("planned", p.Planned)
	row("event", p.Event.ID+" ("+p.Event.Type+" from "+p.Event.Source+")")
	row("actor", strings.TrimSpace(p.Actor.Type+" "+firstNonEmpty(p.Actor.Name, p.Actor.ID)))
	row("approvals", fmt.Sprintf("%d of %d: %s", len(p.Approvals), p.Approvers, strings.Join(p.ApprovedBy(), ", ")))
	if p.Denial != nil {
		row("denied by", p.Denial.By+" "+p.Denial.Comment)
	}
	row("expires", p.Expires.Format(time.RFC3339))
	if len(p.Joined) > 0 {
		row("joined events", strings.Join(p.Joined, ", "))
	}
	return tw.Flush()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
