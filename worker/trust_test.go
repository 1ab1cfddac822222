package worker_test

import (
	"encoding/json"
	"testing"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

func TestUntrustedSourcesAndAccountsAreNotActedOn(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) {
		c.TrustedSources = []string{"HC.*"}
		c.TrustedAccounts = []string{"5f1e2d3c4b5a69788796a5b4c3d2e1f0"}
	})
	trusted := withDomain(t, ctsEvent("tr-ok", keyOff), "5f1e2d3c4b5a69788796a5b4c3d2e1f0")
	otherAccount := withDomain(t, ctsEvent("tr-acct", keyOff2), "00000000000000000000000000000000")
	otherSource := events.Raw{Body: []byte(`{"specversion":"1.0","id":"tr-src","source":"evil.example","type":"KMS:CloudTrace:ApiCall","data":{}}`),
		Source: "evil.example", ID: "tr-src"}
	for _, r := range []events.Raw{trusted, otherAccount, otherSource} {
		b.publish(r, events.Structured)
	}
	b.waitFinal(3)
	got := map[string]audit.Outcome{}
	for id, ds := range b.mem.Final() {
		got[id] = ds[0].Outcome
	}
	if got["tr-ok"] != audit.Remediated || got["tr-acct"] != audit.Untrusted || got["tr-src"] != audit.Untrusted {
		t.Errorf("outcomes %v", got)
	}
	if n := b.sim.Writes(""); n != 1 {
		t.Errorf("writes %d, want 1 (only the trusted event)", n)
	}
	untrustedAudits := 0
	for _, m := range b.streamMsgs(b.cfg.AuditStream) {
		if m.Subject() == b.cfg.AuditSubject+".untrusted" {
			untrustedAudits++
		}
	}
	if untrustedAudits != 2 {
		t.Errorf("%d untrusted audit records, want 2", untrustedAudits)
	}
	b.assertDrained()
}

func withDomain(t *testing.T, r events.Raw, domain string) events.Raw {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	m["data"].(map[string]any)["domain_id"] = domain
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.Body = b
	return r
}
