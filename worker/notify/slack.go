package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/remediator/remediator/worker/audit"
)

// slackRequest renders a record as a Slack-compatible incoming webhook
// message: {"text": ...} in Slack's mrkdwn. Mattermost, Rocket.Chat and
// others take the same form.
func slackRequest(r *record) (http.Header, []byte) {
	body, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{slackText(r)}) // strings only: it cannot fail
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", r.ID)
	return h, body
}

// slackText says what drifted, who changed it, what was done or awaits
// approval (with the command to approve), who approved or denied it, and
// why a failure failed.
func slackText(r *record) string {
	d := r.Data
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*: %s", headline(d.Outcome), code(d.Rule))
	if d.Action != "" {
		fmt.Fprintf(&b, " (%s)", code(d.Action))
	}
	b.WriteString("\n")
	if d.Resource != "" {
		fmt.Fprintf(&b, "Resource: %s", code(d.Resource))
		if where := strings.Trim(d.Account+" / "+d.Region, " /"); where != "" {
			fmt.Fprintf(&b, " in %s", where)
		}
		b.WriteString("\n")
	} else if d.Account != "" {
		fmt.Fprintf(&b, "Account: %s\n", d.Account)
	}
	if a := d.Actor; a != nil && (a.Name != "" || a.ID != "") {
		who := strings.TrimSpace(a.Type + " " + orDefault(a.Name, a.ID))
		if a.Name != "" && a.ID != "" && a.ID != a.Name {
			who += " (" + a.ID + ")"
		}
		fmt.Fprintf(&b, "Changed by: %s\n", who)
	}
	switch {
	case d.Outcome == audit.AwaitingApproval:
		b.WriteString("Awaits approval: nothing was changed yet.\n")
		if d.ApprovalID != "" {
			fmt.Fprintf(&b, "approve with: `remediator approvals approve %s`\n", d.ApprovalID)
		}
	case d.Before != "" || d.After != "":
		fmt.Fprintf(&b, "Done: %s -> %s\n", orDefault(d.Before, "?"), orDefault(d.After, "?"))
	}
	if a := d.Approval; a != nil {
		if len(a.Approvers) > 0 {
			fmt.Fprintf(&b, "Approved by: %s\n", strings.Join(a.Approvers, ", "))
		}
		if a.DeniedBy != "" {
			fmt.Fprintf(&b, "Denied by: %s\n", a.DeniedBy)
		}
		for _, c := range a.Comments {
			fmt.Fprintf(&b, "Comment: %s\n", c)
		}
	}
	if d.Reason != "" || d.Error != "" {
		why := d.Reason
		if d.Code != "" {
			why += " (" + d.Code + ")"
		}
		if d.Error != "" {
			why = strings.TrimSpace(why + ": " + d.Error)
		}
		fmt.Fprintf(&b, "Reason: %s\n", why)
	}
	if d.Detail != "" {
		fmt.Fprintf(&b, "Detail: %s\n", d.Detail)
	}
	fmt.Fprintf(&b, "Event: %s, record %s", orDefault(d.Event.ID, "?"), r.ID)
	return b.String()
}

// headline is the outcome as people read it.
func headline(o audit.Outcome) string {
	switch o {
	case audit.Remediated:
		return "Remediated"
	case audit.DeadLettered:
		return "Dead-lettered (not remediated)"
	case audit.CircuitOpen:
		return "Circuit open (the rule's writes are paused)"
	case audit.AwaitingApproval:
		return "Awaiting approval"
	case audit.Denied:
		return "Denied by an approver (nothing was changed)"
	case audit.ApprovalExpired:
		return "Approval expired (nothing was changed)"
	case audit.Planned:
		return "Planned (dry run)"
	case audit.AlreadyCompliant:
		return "Already compliant"
	}
	return string(o)
}

// code quotes a value as inline code, without backticks inside.
func code(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}
