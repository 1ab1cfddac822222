package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/approval"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// TestApprovalsFromOutside, with the real binary against nats-server (a
// process of its own) and the simulator: the built-in disable_key rule
// plans and waits (awaiting_approval, no write); the HTTP API refuses a
// request without the token; the worker is SIGKILLed while the approval
// is pending; `remediator approvals approve` approves it; a restarted
// worker disables the key once and records remediated with the approver.
// A second key's approval is denied over HTTP: denied, no write.
func TestApprovalsFromOutside(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The second allow-listed key ("retired") enabled, for the deny path.
	pr := seed.Huawei.Projects["0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"]
	for i := range pr.KMSKeys {
		if pr.KMSKeys[i].ID == "9b0c1d2e-aaaa-4aaa-8aaa-000000000022" {
			pr.KMSKeys[i].State = "enabled"
		}
	}
	sim := cloudsim.New(seed)
	srv := startSim(t, sim)
	tokFile := filepath.Join(t.TempDir(), "token")
	const token = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	args := []string{"run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--builtin", "--rules", "../../testdata/rules/demo",
		"--ack-wait", "4s", "--retry-base", "100ms", "--shutdown-timeout", "1s", "--approval-check", "200ms",
		"--http", httpAddr, "--approvals-token-file", tokFile}
	child, logs := startChild(t, args...)

	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	raws, err := events.ReadFixtures("../../testdata/events/08-finding-kms-key-must-be-disabled.json")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker's topology", func() bool { _, err := js.KeyValue(ctx, "REMEDIATION_APPROVALS"); return err == nil })
	cfg := worker.DefaultConfig().Streams()
	if _, err := streams.Publish(ctx, js, cfg, raws[0], events.Structured); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "awaiting_approval", func() bool { return hasDecision(logs.String(), raws[0].ID, "awaiting_approval") })
	if n := sim.Writes("kms.disable-key"); n != 0 {
		t.Fatalf("%d disable-key writes before approval, want 0", n)
	}
	plans := listApprovals(t, ns.URL())
	if len(plans) != 1 || plans[0].State != approval.Pending || plans[0].Event.ID != raws[0].ID || plans[0].Planned == "" {
		t.Fatalf("approvals = %+v, want one pending plan for %s", plans, raws[0].ID)
	}
	id := plans[0].ID

	// The HTTP API: no token, a wrong token -> 401.
	for _, auth := range []string{"", "Bearer wrong"} {
		if code, _ := approvalsHTTP(t, httpAddr, "GET", "/approvals", auth, nil); code != http.StatusUnauthorized {
			t.Errorf("GET /approvals with %q: %d, want 401", auth, code)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the token is in the worker's log")
	}

	// Killed while pending; approved meanwhile; a new worker executes it once.
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"approvals", "approve", id, "--nats-url", ns.URL(), "--as", "alice", "--comment", "leaked key", "-o", "json"}, &out, &errb); code != 0 {
		t.Fatalf("approvals approve: exit %d: %s", code, errb.String())
	}
	child, logs = startChild(t, args...)
	waitFor(t, "remediated", func() bool { return hasDecision(logs.String(), raws[0].ID, "remediated") })
	rec := auditRecord(t, js, raws[0].ID, "remediated")
	if rec.ApprovalID != id || rec.Approval == nil || len(rec.Approval.Approvers) != 1 || rec.Approval.Approvers[0] != "alice" {
		t.Errorf("remediated record: approval_id %q, approval %+v; want %s by alice", rec.ApprovalID, rec.Approval, id)
	}
	if n := sim.Writes("kms.disable-key"); n != 1 {
		t.Fatalf("%d disable-key writes after approval, want 1", n)
	}
	if code := run(ctx, []string{"approvals", "approve", id, "--nats-url", ns.URL(), "--as", "bob"}, &out, &errb); code == 0 {
		t.Error("approving an executed approval succeeded")
	}

	// A second key: denied over HTTP, with the token.
	second := raws[0]
	second.ID = "finding-approvals-deny"
	second.Body = bytes.ReplaceAll(bytes.ReplaceAll(second.Body, []byte("8a9b0c1d-9999-4999-8999-000000000011"), []byte("9b0c1d2e-aaaa-4aaa-8aaa-000000000022")),
		[]byte(raws[0].ID), []byte(second.ID))
	if _, err := streams.Publish(ctx, js, cfg, second, events.Structured); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "awaiting_approval (second)", func() bool { return hasDecision(logs.String(), second.ID, "awaiting_approval") })
	var denyID string
	for _, p := range listApprovals(t, ns.URL()) {
		if p.Event.ID == second.ID {
			denyID = p.ID
		}
	}
	code, body := approvalsHTTP(t, httpAddr, "POST", "/approvals/"+denyID+"/deny", "Bearer "+token, map[string]string{"as": "carol", "comment": "in use"})
	if code != http.StatusOK {
		t.Fatalf("POST deny: %d %s", code, body)
	}
	waitFor(t, "denied", func() bool { return hasDecision(logs.String(), second.ID, "denied") })
	if n := sim.Writes("kms.disable-key"); n != 1 {
		t.Fatalf("%d disable-key writes after a denial, want still 1", n)
	}
}

func hasDecision(logs, eventID, outcome string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "decision" && rec["event_id"] == eventID && rec["outcome"] == outcome {
			return true
		}
	}
	return false
}

func listApprovals(t *testing.T, url string) []approval.Plan {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"approvals", "list", "--nats-url", url, "-o", "json"}, &out, &errb); code != 0 {
		t.Fatalf("approvals list: exit %d: %s", code, errb.String())
	}
	var ps []approval.Plan
	if err := json.Unmarshal(out.Bytes(), &ps); err != nil {
		t.Fatalf("approvals list -o json: %v: %s", err, out.String())
	}
	return ps
}

func approvalsHTTP(t *testing.T, addr, method, path, auth string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// auditRecord is the audit record of the event with this outcome.
func auditRecord(t *testing.T, js jetstream.JetStream, eventID string, outcome audit.Outcome) audit.Record {
	t.Helper()
	var found *audit.Record
	readAll(t, js, "REMEDIATION_AUDIT", func(b []byte) {
		var ce struct{ Data audit.Record }
		if json.Unmarshal(b, &ce) == nil && ce.Data.Event.ID == eventID && ce.Data.Outcome == outcome {
			found = &ce.Data
		}
	})
	if found == nil {
		t.Fatalf("no %s audit record for %s", outcome, eventID)
	}
	return *found
}

// waiveDisableApproval writes a policy file waiving the built-in
// disable_key rules' approval, for tests about something else that expect
// every drift remediated at once.
func waiveDisableApproval(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "waive.yaml")
	pol := "policy:\n  approval_waived: [huawei-kms-disable-key-cts, huawei-kms-disable-key-finding]\n"
	if err := os.WriteFile(path, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
