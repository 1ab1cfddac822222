package notify

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/audit"
)

// record is an audit CloudEvent as the notifier reads it: the envelope,
// the data as it was stored (the webhook's body) and decoded (for the
// filters and the Slack text).
type record struct {
	ID      string          `json:"id"`
	Source  string          `json:"source"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Time    string          `json:"time"`
	Raw     json.RawMessage `json:"data"`
	Data    recordData      `json:"-"`
}

// recordData is the record's data, with the approval's id when the record
// awaits one (the approval workflow adds it).
type recordData struct {
	audit.Record
	ApprovalID string `json:"approval_id,omitempty"`
}

// parseRecord reads an audit CloudEvent (structured mode, as the worker
// publishes it).
func parseRecord(body []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if r.ID == "" || len(r.Raw) == 0 {
		return nil, errors.New("not an audit CloudEvent: no id or no data")
	}
	if err := json.Unmarshal(r.Raw, &r.Data); err != nil {
		return nil, errors.New("data: " + err.Error())
	}
	return &r, nil
}

// wants says whether the sink takes the record: its outcome (the consumer
// already filters by subject; checked again for a consumer made by hand),
// its rule against the sink's globs and its account.
func (s SinkConfig) wants(r *record) bool {
	if len(s.Outcomes) > 0 && !slices.Contains(s.Outcomes, r.Data.Outcome) {
		return false
	}
	if len(s.Accounts) > 0 && !slices.Contains(s.Accounts, r.Data.Account) {
		return false
	}
	if len(s.Rules) == 0 {
		return true
	}
	for _, g := range s.Rules {
		if rules.MatchGlob(g, r.Data.Rule) {
			return true
		}
	}
	return false
}
