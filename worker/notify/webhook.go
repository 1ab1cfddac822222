package notify

import (
	"net/http"

	"github.com/remediator/remediator/worker/audit"
)

// webhookRequest renders a record as a CloudEvent in binary mode: the
// attributes as ce- headers, the record's data as the body, the record's
// id also as Idempotency-Key. A Knative broker or any CloudEvents
// receiver takes it.
func webhookRequest(r *record, token string) (http.Header, []byte) {
	h := http.Header{}
	// Headers set directly: CloudEvents' HTTP binding names them in
	// lowercase, and Go would canonicalise Set's keys (Ce-Id); HTTP header
	// names are case-insensitive either way, so both forms are correct.
	h["ce-specversion"] = []string{"1.0"}
	h["ce-id"] = []string{r.ID}
	h["ce-source"] = []string{orDefault(r.Source, audit.Source)}
	h["ce-type"] = []string{orDefault(r.Type, audit.TypePrefix+string(r.Data.Outcome))}
	if r.Time != "" {
		h["ce-time"] = []string{r.Time}
	}
	if r.Subject != "" {
		h["ce-subject"] = []string{r.Subject}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", r.ID)
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h, r.Raw
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
