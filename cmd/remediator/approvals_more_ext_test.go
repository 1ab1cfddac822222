package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/approval"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
)

// The outside tests of approvals that TestApprovalsFromOutside leaves:
// expiry, three replicas, approval with notifications, two approvers and
// the actor. Each runs `remediator run` (the real binary, as a child)
// against nats-server as its own process and the simulator, and the
// `approvals` commands as children too, as an operator would.

// approvalBed is a nats-server process, the demo estate in the simulator,
// a connection, and the finding that asks to disable the demo's
// allow-listed key (testdata/events/08).
type approvalBed struct {
	ns    *natsProc
	sim   *cloudsim.Simulator
	srv   *cloudsim.Server
	js    jetstream.JetStream
	event events.Raw
}

func newApprovalBed(t *testing.T) *approvalBed {
	t.Helper()
	ns := startNATSProcess(t, natsProcOptions{})
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	b := &approvalBed{ns: ns, sim: sim, srv: startSim(t, sim)}
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b.js, _ = jetstream.New(nc)
	raws, err := events.ReadFixtures("../../testdata/events/08-finding-kms-key-must-be-disabled.json")
	if err != nil {
		t.Fatal(err)
	}
	b.event = raws[0]
	return b
}

// runArgs are `run`'s arguments against the bed, then extra.
func (b *approvalBed) runArgs(extra ...string) []string {
	return append([]string{"run", "--nats-url", b.ns.URL(), "--cloud-endpoint", b.srv.URL(),
		"--ack-wait", "4s", "--retry-base", "100ms", "--shutdown-timeout", "1s"}, extra...)
}

// publish waits for the worker's approvals bucket, then publishes e.
func (b *approvalBed) publish(t *testing.T, e events.Raw) {
	t.Helper()
	ctx := t.Context()
	waitFor(t, "the worker's topology", func() bool { _, err := b.js.KeyValue(ctx, "REMEDIATION_APPROVALS"); return err == nil })
	if _, err := streams.Publish(ctx, b.js, worker.DefaultConfig().Streams(), e, events.Structured); err != nil {
		t.Fatal(err)
	}
}

// planOf is the plan of the event with this id.
func (b *approvalBed) planOf(t *testing.T, eventID string) approval.Plan {
	t.Helper()
	for _, p := range listApprovals(t, b.ns.URL()) {
		if p.Event.ID == eventID {
			return p
		}
	}
	t.Fatalf("no approval for event %s", eventID)
	return approval.Plan{}
}

// disables is the simulator's disable-key writes.
func (b *approvalBed) disables() int { return b.sim.Writes("kms.disable-key") }

// records are the audit records of the event with this outcome.
func (b *approvalBed) records(t *testing.T, eventID string, outcome audit.Outcome) []audit.Record {
	t.Helper()
	var out []audit.Record
	readAll(t, b.js, "REMEDIATION_AUDIT", func(m []byte) {
		var ce struct{ Data audit.Record }
		if json.Unmarshal(m, &ce) == nil && ce.Data.Event.ID == eventID && ce.Data.Outcome == outcome {
			out = append(out, ce.Data)
		}
	})
	return out
}

// cli runs the real binary as a client command, as an operator would, and
// returns its exit code, stdout and stderr.
func (b *approvalBed) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "--nats-url", b.ns.URL())...)
	cmd.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("remediator %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// approve runs `approvals approve ID --as who -o json`, which must succeed,
// and returns the plan it printed.
func (b *approvalBed) approve(t *testing.T, id, who string) approval.Plan {
	t.Helper()
	code, out, errs := b.cli(t, "approvals", "approve", id, "--as", who, "-o", "json")
	if code != 0 {
		t.Fatalf("approvals approve %s --as %s: exit %d: %s", id, who, code, errs)
	}
	var p approval.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("approvals approve -o json: %v: %s", err, out)
	}
	return p
}

// refused runs `approvals approve ID --as who`, which must fail (exit 1)
// saying each of want on stderr.
func (b *approvalBed) refused(t *testing.T, id, who string, want ...string) {
	t.Helper()
	code, _, errs := b.cli(t, "approvals", "approve", id, "--as", who)
	if code != 1 {
		t.Fatalf("approvals approve %s --as %s: exit %d, want 1 (refused); stderr: %s", id, who, code, errs)
	}
	t.Logf("approvals approve %s --as %s: refused: %s", id, who, strings.TrimSpace(errs))
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("approvals approve %s --as %s: no %q in the error: %s", id, who, w, errs)
		}
	}
}

// TestApprovalExpiresFromOutside: a rule whose approval lives 2 s; the
// event waits (awaiting_approval), nobody approves, the worker's check
// (every 200 ms) expires it: approval_expired in the audit trail with the
// approval's id, the plan expired, nothing written, and an approval
// afterwards is refused with the reason and what to do.
func TestApprovalExpiresFromOutside(t *testing.T) {
	t.Parallel()
	b := newApprovalBed(t)
	_, logs := startChild(t, b.runArgs("--rules", "../../testdata/rules/demo", "--rules", "../../testdata/rules/approval-expiry",
		"--approval-check", "200ms")...)
	b.publish(t, b.event)
	waitFor(t, "awaiting_approval", func() bool { return hasDecision(logs.String(), b.event.ID, "awaiting_approval") })
	p := b.planOf(t, b.event.ID)
	if p.State != approval.Pending || p.Rule != "approval-expiry-disable-key" || p.Expires.Sub(p.Created) != 2*time.Second {
		t.Fatalf("plan %+v: want pending, rule approval-expiry-disable-key, expiring 2s after it opened", p)
	}
	waitFor(t, "approval_expired", func() bool { return hasDecision(logs.String(), b.event.ID, "approval_expired") })
	recs := b.records(t, b.event.ID, audit.ApprovalExpired)
	if len(recs) != 1 || recs[0].ApprovalID != p.ID || recs[0].Rule != p.Rule {
		t.Fatalf("approval_expired records %+v: want one, of approval %s and rule %s", recs, p.ID, p.Rule)
	}
	if p := b.planOf(t, b.event.ID); p.State != approval.Expired || p.Closed.IsZero() {
		t.Errorf("plan after expiry: state %s, closed %v; want expired and closed", p.State, p.Closed)
	}
	b.refused(t, p.ID, "alice", "the approval has expired", p.ID, "a new event about the resource opens a new approval")
	time.Sleep(500 * time.Millisecond) // an execution would come now
	if n := b.disables(); n != 0 {
		t.Errorf("%d disable-key writes: an expired approval wrote", n)
	}
	if recs := b.records(t, b.event.ID, audit.Remediated); len(recs) != 0 {
		t.Errorf("remediated records %+v after expiry", recs)
	}
}

// TestApprovalThreeReplicas: three `remediator run` processes on one
// nats-server, each checking approvals every 100 ms (so each would
// announce an unsettled decision again at once); one event waits, one
// approval: exactly one disable-key write and exactly one remediated
// record, across the three.
func TestApprovalThreeReplicas(t *testing.T) {
	t.Parallel()
	b := newApprovalBed(t)
	var logs []*syncBuffer
	for range 3 {
		_, l := startChild(t, b.runArgs("--builtin", "--rules", "../../testdata/rules/demo", "--approval-check", "100ms")...)
		logs = append(logs, l)
	}
	anyDecision := func(outcome string) bool {
		for _, l := range logs {
			if hasDecision(l.String(), b.event.ID, outcome) {
				return true
			}
		}
		return false
	}
	b.publish(t, b.event)
	waitFor(t, "awaiting_approval", func() bool { return anyDecision("awaiting_approval") })
	p := b.approve(t, b.planOf(t, b.event.ID).ID, "alice")
	if p.State != approval.Approved {
		t.Fatalf("plan after one approval: %s, want approved", p.State)
	}
	waitFor(t, "remediated", func() bool { return anyDecision("remediated") })
	time.Sleep(1500 * time.Millisecond) // 15 approval checks of each replica: a second execution would come now
	if n := b.disables(); n != 1 {
		t.Errorf("%d disable-key writes across three replicas, want 1", n)
	}
	recs := b.records(t, b.event.ID, audit.Remediated)
	if len(recs) != 1 || recs[0].ApprovalID != p.ID || recs[0].Approval == nil || strings.Join(recs[0].Approval.Approvers, ",") != "alice" {
		t.Errorf("remediated records %+v: want one, of approval %s by alice", recs, p.ID)
	}
	n := 0
	for _, l := range logs {
		n += strings.Count(l.String(), `"outcome":"remediated"`)
	}
	if n != 1 {
		t.Errorf("%d remediated decisions logged across the replicas, want 1", n)
	}
	if p := b.planOf(t, b.event.ID); p.State != approval.Executed || p.Closed.IsZero() {
		t.Errorf("plan after execution: %s, closed %v; want executed and closed", p.State, p.Closed)
	}
}

// TestApprovalNotifiedFromOutside: `run --notify-sinks` with a webhook
// sink and a Slack sink on local receivers. The event that needs approval
// is announced to both: the webhook's data has outcome awaiting_approval
// and the approval's id, the Slack text the command that approves it.
// Then the approval: both receive remediated, the webhook's data with the
// approver and the comment.
func TestApprovalNotifiedFromOutside(t *testing.T) {
	t.Parallel()
	b := newApprovalBed(t)
	hook, chat := newSinkReceiver(t, 0), newSinkReceiver(t, 0)
	dir := t.TempDir()
	hookURL, chatURL, sinks := filepath.Join(dir, "hook-url"), filepath.Join(dir, "chat-url"), filepath.Join(dir, "sinks.yaml")
	writeFile(t, hookURL, hook.URL+"/events")
	writeFile(t, chatURL, chat.URL+"/services/T0/B0/XSECRET")
	writeFile(t, sinks, fmt.Sprintf(`sinks:
  - name: ops
    type: webhook
    url_file: %s
    outcomes: [awaiting_approval, remediated]
  - name: chat
    type: slack
    url_file: %s
    outcomes: [awaiting_approval, remediated]
`, hookURL, chatURL))
	_, logs := startChild(t, b.runArgs("--builtin", "--rules", "../../testdata/rules/demo", "--approval-check", "200ms", "--notify-sinks", sinks)...)
	waitFor(t, "both sinks started", func() bool { return strings.Count(logs.String(), "notify_sink_started") == 2 })
	b.publish(t, b.event)

	waitFor(t, "the awaiting_approval webhook", func() bool { u, _ := hook.counts(); return u == 1 })
	id := b.planOf(t, b.event.ID).ID
	first := webhookData(t, hook, 0)
	if first.Outcome != audit.AwaitingApproval || first.ApprovalID != id || first.Event.ID != b.event.ID {
		t.Errorf("webhook data: outcome %s, approval_id %q, event %s; want awaiting_approval, %s, %s",
			first.Outcome, first.ApprovalID, first.Event.ID, id, b.event.ID)
	}
	waitFor(t, "the awaiting_approval Slack message", func() bool { u, _ := chat.counts(); return u == 1 })
	text := slackMessage(t, chat, 0)
	for _, want := range []string{"*Awaiting approval*", "nothing was changed yet", "`remediator approvals approve " + id + "`"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the Slack message:\n%s", want, text)
		}
	}
	if n := b.disables(); n != 0 {
		t.Fatalf("%d disable-key writes before approval", n)
	}

	code, _, errs := b.cli(t, "approvals", "approve", id, "--as", "alice", "--comment", "leaked key")
	if code != 0 {
		t.Fatalf("approvals approve: exit %d: %s", code, errs)
	}
	waitFor(t, "the remediated webhook", func() bool { u, _ := hook.counts(); return u == 2 })
	done := webhookData(t, hook, 1)
	if done.Outcome != audit.Remediated || done.ApprovalID != id || done.Approval == nil ||
		strings.Join(done.Approval.Approvers, ",") != "alice" || strings.Join(done.Approval.Comments, ",") != "alice: leaked key" {
		t.Errorf("webhook data: outcome %s, approval_id %q, approval %+v; want remediated, %s, approved by alice with her comment",
			done.Outcome, done.ApprovalID, done.Approval, id)
	}
	waitFor(t, "the remediated Slack message", func() bool { u, _ := chat.counts(); return u == 2 })
	if text := slackMessage(t, chat, 1); !strings.Contains(text, "*Remediated*") || !strings.Contains(text, "Approved by: alice") {
		t.Errorf("the remediated Slack message does not say it was remediated and who approved:\n%s", text)
	}
	if n := b.disables(); n != 1 {
		t.Errorf("%d disable-key writes after approval, want 1", n)
	}
	if strings.Contains(logs.String(), "XSECRET") {
		t.Error("the Slack URL is in run's log")
	}
}

// webhookData is the i-th webhook body received, as notify sends it: the
// audit record's data.
func webhookData(t *testing.T, r *sinkReceiver, i int) audit.Record {
	t.Helper()
	r.mu.Lock()
	body := r.bodies[i]
	r.mu.Unlock()
	var d audit.Record
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("webhook body %d: %v: %s", i, err, body)
	}
	return d
}

// slackMessage is the text of the i-th Slack message received.
func slackMessage(t *testing.T, r *sinkReceiver, i int) string {
	t.Helper()
	r.mu.Lock()
	body := r.bodies[i]
	r.mu.Unlock()
	var msg struct{ Text string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatalf("Slack message %d: %v: %s", i, err, body)
	}
	return msg.Text
}

// TestApprovalTwoApproversFromOutside: a rule needing two approvers and a
// finding that names who disabled protection (mallory). The actor cannot
// approve, by name or id; one approval leaves the plan pending and writes
// nothing; the same person again is refused; a second person approves:
// one write, remediated with both approvers.
func TestApprovalTwoApproversFromOutside(t *testing.T) {
	t.Parallel()
	b := newApprovalBed(t)
	_, logs := startChild(t, b.runArgs("--rules", "../../testdata/rules/demo", "--rules", "../../testdata/rules/approval-two",
		"--approval-check", "200ms")...)
	e := b.event
	const actorID = "e1d2c3b4a5968778695a4b3c2d1e0f9a"
	e.Body = bytes.Replace(e.Body, []byte(`"detail":`), []byte(`"actor": {"type": "user", "id": "`+actorID+`", "name": "mallory"}, "detail":`), 1)
	b.publish(t, e)
	waitFor(t, "awaiting_approval", func() bool { return hasDecision(logs.String(), e.ID, "awaiting_approval") })
	p := b.planOf(t, e.ID)
	if p.Approvers != 2 || p.Actor.Name != "mallory" || p.Actor.ID != actorID {
		t.Fatalf("plan %+v: want 2 approvers and the actor mallory (%s)", p, actorID)
	}
	for _, who := range []string{"mallory", "Mallory", actorID} {
		b.refused(t, p.ID, who, "the principal who caused the drift cannot approve its remediation", "ask someone else to approve")
	}
	if q := b.approve(t, p.ID, "alice"); q.State != approval.Pending || strings.Join(q.ApprovedBy(), ",") != "alice" {
		t.Fatalf("plan after alice: %s approved by %v; want pending, approved by alice", q.State, q.ApprovedBy())
	}
	b.refused(t, p.ID, "alice", "already approved by this approver: alice", "another person must approve")
	time.Sleep(600 * time.Millisecond) // three approval checks: an early execution would come now
	if n := b.disables(); n != 0 {
		t.Fatalf("%d disable-key writes with one approval of two", n)
	}
	if q := b.approve(t, p.ID, "bob"); q.State != approval.Approved {
		t.Fatalf("plan after bob: %s, want approved", q.State)
	}
	waitFor(t, "remediated", func() bool { return hasDecision(logs.String(), e.ID, "remediated") })
	if n := b.disables(); n != 1 {
		t.Errorf("%d disable-key writes after two approvals, want 1", n)
	}
	recs := b.records(t, e.ID, audit.Remediated)
	if len(recs) != 1 || recs[0].Approval == nil || strings.Join(recs[0].Approval.Approvers, ",") != "alice,bob" {
		t.Errorf("remediated records %+v: want one, approved by alice and bob", recs)
	}
}

// TestApprovalSurvivesNATSRestart: an approval pending while nats-server
// restarts (the worker keeps running and reconnects) is still there, and
// approving it afterwards makes exactly one write.
func TestApprovalSurvivesNATSRestart(t *testing.T) {
	t.Parallel()
	b := newApprovalBed(t)
	_, logs := startChild(t, b.runArgs("--builtin", "--rules", "../../testdata/rules/demo")...)
	b.publish(t, b.event)
	waitFor(t, "awaiting_approval", func() bool { return hasDecision(logs.String(), b.event.ID, "awaiting_approval") })
	id := b.planOf(t, b.event.ID).ID
	b.ns.Restart()
	waitFor(t, "the worker reconnected", func() bool { return strings.Contains(logs.String(), "nats_reconnected") })
	if p := b.planOf(t, b.event.ID); p.ID != id || p.State != approval.Pending {
		t.Fatalf("after the restart: plan %s in state %s, want %s pending", p.ID, p.State, id)
	}
	b.approve(t, id, "alice")
	waitFor(t, "remediated", func() bool { return hasDecision(logs.String(), b.event.ID, "remediated") })
	time.Sleep(500 * time.Millisecond)
	if n := b.disables(); n != 1 {
		t.Errorf("%d disable-key writes, want 1\n%s", n, logs.String())
	}
}
