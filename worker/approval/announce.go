package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Source is the CloudEvents source of the control events.
const Source = "remediator/approvals"

// TypePrefix prefixes the control events' types: remediator.approval.
// approved, .denied, .expired.
const TypePrefix = "remediator.approval."

// Control is a control event's data.
type Control struct {
	ApprovalID string `json:"approval_id"`
}

// Announce publishes the control event that tells the workers a plan
// changed state (approved, denied, expired) to the intake subject. Its id
// (and Nats-Msg-Id) is the plan's id, creation and state: announcing
// twice stores one event within the duplicate window, and the workers
// read the plan, not the event, to decide (a publisher cannot approve by
// publishing one).
func Announce(ctx context.Context, js jetstream.JetStream, subject string, p Plan) error {
	id := EventID(p)
	body, _ := json.Marshal(Control{ApprovalID: p.ID})
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{
		"ce-specversion": {"1.0"},
		"ce-id":          {id},
		"ce-source":      {Source},
		"ce-type":        {TypePrefix + string(p.State)},
		"ce-subject":     {p.ID},
		"ce-time":        {time.Now().UTC().Format(time.RFC3339Nano)},
		"content-type":   {"application/json"},
	}}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("approval %s: publish %s to %s: %w", p.ID, p.State, subject, err)
	}
	return nil
}

// EventID is the control event's id for the plan's current state.
func EventID(p Plan) string {
	return p.ID + "-" + strconv.FormatInt(p.Created.UnixNano(), 36) + "-" + string(p.State)
}

// IsControl reports whether an event of this type and source is a
// control event.
func IsControl(typ, source string) bool {
	return source == Source && strings.HasPrefix(typ, TypePrefix)
}
