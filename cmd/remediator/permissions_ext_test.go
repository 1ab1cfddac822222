package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker/cloudsim"
)

// The users of deploy/nats/accounts.conf, in the order the file lists them.
var deployNATSUsers = []string{"worker", "publisher", "ops"}

// deployUser is one user of deploy/nats/accounts.conf with a fresh nkey
// and the inbox prefix the file lets it subscribe to (PREFIX.>).
type deployUser struct {
	name, public, seedFile string
	inbox                  string
}

// startDeployAccounts starts nats-server with deploy/nats/accounts.conf as
// it is, each example nkey replaced by a fresh one whose seed is written
// to a file for --nats-nkey. Users the file lacks are reported and left
// out of the map. Each user's inbox prefix is read from its subscribe
// permissions (see inboxPrefixes).
func startDeployAccounts(t *testing.T) (*natsProc, map[string]deployUser) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf, dir := string(b), t.TempDir()
	examples := regexp.MustCompile(`(?m)^\s*nkey:\s*(U[A-Z2-7]{55})\s*$`).FindAllStringSubmatch(conf, -1)
	if len(examples) != len(deployNATSUsers) {
		t.Errorf("accounts.conf has %d users, want %d (%s)", len(examples), len(deployNATSUsers), strings.Join(deployNATSUsers, ", "))
	}
	users := map[string]deployUser{}
	for i, m := range examples[:min(len(examples), len(deployNATSUsers))] {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		u := deployUser{name: deployNATSUsers[i], public: pub, seedFile: filepath.Join(dir, deployNATSUsers[i]+".nk")}
		writeFile(t, u.seedFile, string(seed)+"\n")
		conf = strings.Replace(conf, m[1], pub, 1)
		users[u.name] = u
	}
	for name, prefix := range inboxPrefixes(t, dir, conf, users) {
		u := users[name]
		u.inbox = prefix
		users[name] = u
	}
	probe, err := nats.NkeyOptionFromSeed(users["worker"].seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return startNATSProcess(t, natsProcOptions{Extra: conf, ClientOptions: []nats.Option{probe, nats.CustomInboxPrefix(users["worker"].inbox)}}), users
}

// inboxPrefixes reads the configuration as nats-server does and returns,
// per user, the prefix of the one inbox subscription it is allowed
// (_INBOX_worker for "_INBOX_worker.>"); a user with none or several is
// reported and runs with nats.go's default, _INBOX.
func inboxPrefixes(t *testing.T, dir, conf string, users map[string]deployUser) map[string]string {
	t.Helper()
	file := filepath.Join(dir, "accounts-only.conf")
	writeFile(t, file, conf)
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]string{}
	for name, u := range users {
		prefixes[name] = defaultInboxPrefix
		var found []string
		for _, nk := range opts.Nkeys {
			if nk.Nkey != u.public || nk.Permissions == nil || nk.Permissions.Subscribe == nil {
				continue
			}
			for _, s := range nk.Permissions.Subscribe.Allow {
				if p, ok := strings.CutSuffix(s, ".>"); ok && strings.HasPrefix(p, "_INBOX") {
					found = append(found, p)
				}
			}
		}
		if len(found) != 1 {
			t.Errorf("accounts.conf: the %s user may subscribe to %d inbox prefixes %v, want one", name, len(found), found)
			continue
		}
		prefixes[name] = found[0]
	}
	return prefixes
}

// connectAs opens a client connection as u, with its inbox prefix;
// violations collects the permission errors the server reports on it.
func connectAs(t *testing.T, ns *natsProc, u deployUser) (jetstream.JetStream, *violations) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(u.seedFile)
	if err != nil {
		t.Fatal(err)
	}
	v := &violations{}
	nc, err := nats.Connect(ns.URL(), opt, nats.CustomInboxPrefix(u.inbox), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { v.add(err) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, v
}

// violations are the permission errors a connection got asynchronously.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) add(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

// waitFor waits up to 3 s for a permissions violation naming subject.
func (v *violations) waitFor(subject string) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		for _, e := range v.errs {
			if strings.Contains(strings.ToLower(e), "permissions violation") && strings.Contains(e, subject) {
				v.mu.Unlock()
				return true
			}
		}
		v.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// runAs runs a command as u to its end and returns its output.
func runAs(t *testing.T, ns *natsProc, u deployUser, args ...string) (string, error) {
	t.Helper()
	if u.seedFile == "" {
		return "", fmt.Errorf("no %s user in accounts.conf", u.name)
	}
	cmd, out := startChild(t, append(args, "--nats-url", ns.URL(), "--nats-nkey", u.seedFile, "--nats-inbox-prefix", u.inbox)...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		return out.String(), fmt.Errorf("%s did not finish", args[0])
	}
}

// TestDeployAccountsPermissions runs run, ingest, replay, dlq list, audit
// tail and control against nats-server enforcing deploy/nats/accounts.conf,
// each command as the user meant for it with that user's inbox prefix, and
// checks that everything works with no permissions violation, and that the
// publisher can neither read the audit trail, consume the intake, write the
// ledger nor read another user's replies (a spy subscribed to the others'
// inboxes before any event is published sees nothing, the intake
// deliveries the worker pulls in particular). ingest and replay pass as the
// publisher only while EnsureTopology changes nothing on a topology the
// worker created (ensureStream and ensureConsumer must treat server
// defaults as equal: MaxMsgSize -1, Duplicates 2m, MaxAckPending).
func TestDeployAccountsPermissions(t *testing.T) {
	t.Parallel()
	ns, users := startDeployAccounts(t)
	for _, name := range deployNATSUsers {
		if want := "_INBOX_" + name; users[name].inbox != want {
			t.Errorf("accounts.conf: the %s user subscribes to %s.>, want %s.> (its own inbox prefix, as deploy/README.md says)", name, users[name].inbox, want)
		}
	}
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	srv := startSim(t, sim)
	worker, runLogs := startChild(t, "run", "--nats-url", ns.URL(), "--nats-nkey", users["worker"].seedFile, "--nats-inbox-prefix", users["worker"].inbox,
		"--cloud-endpoint", srv.URL(), "--global-write-limit", "100", "--shutdown-timeout", "1s")
	obs, _ := connectAs(t, ns, users["worker"]) // the intake's state: the worker may read it
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := obs.Consumer(context.Background(), "REMEDIATION_EVENTS", "remediator"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run as the worker created no consumer:\n%s\nserver:\n%s", tail(runLogs.String(), 3000), tail(ns.logs.String(), 3000))
		}
	}
	spy := spyOnInboxes(t, ns, users["publisher"])
	outputs := map[string]string{}
	outputs["ingest"] = ingestAsPublisher(t, ns, users["publisher"])
	out, err := runAs(t, ns, users["publisher"], "replay", "../../testdata/events")
	outputs["replay"] = out
	if err != nil || !strings.Contains(out, "published 18, duplicate 0, rejected 0") {
		t.Errorf("replay as the publisher: %v\n%s", err, out)
	}
	waitIntakeSettled(t, obs, 2)
	for _, key := range []string{demoKeyOff, "2c3d4e5f-1111-4111-8111-00000000beef"} {
		if k, _ := sim.Key(demoProject, key); !k.Rotation {
			t.Errorf("rotation of %s still off: the event was not remediated", key)
		}
	}
	checkOperatorCommands(t, ns, obs, users["ops"], outputs)
	spy.check(t)
	checkPublisherDenied(t, ns, users["publisher"])
	// A clean stop too: the circuit watcher's consumer is deleted then.
	_ = worker.Process.Signal(syscall.SIGTERM)
	if err := worker.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	outputs["run"] = runLogs.String()
	for name, out := range outputs {
		lower := strings.ToLower(out)
		if strings.Contains(lower, "permissions violation") || strings.Contains(out, "nats_async_error") {
			t.Errorf("%s reported a permissions violation:\n%s", name, tail(out, 3000))
		}
	}
	for _, name := range []string{"worker", "ops"} {
		for _, line := range strings.Split(ns.logs.String(), "\n") {
			if users[name].public != "" && strings.Contains(line, users[name].public) && strings.Contains(line, "Violation") {
				t.Errorf("the server refused the %s user: %s", name, line)
			}
		}
	}
}

// ingestAsPublisher runs ingest as the publisher, posts a finding over
// HTTP and waits until the worker has audited it as remediated.
func ingestAsPublisher(t *testing.T, ns *natsProc, pub deployUser) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir+"/token", "perm-test-token\n")
	writeFile(t, dir+"/sources.yaml", "sources:\n  - {source: \"urn:scanner:*\", token_file: "+dir+"/token}\n")
	cmd, logs := startChild(t, "ingest", "--listen", "127.0.0.1:0", "--sources", dir+"/sources.yaml",
		"--nats-url", ns.URL(), "--nats-nkey", pub.seedFile, "--nats-inbox-prefix", pub.inbox)
	re := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		} else if cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Errorf("ingest as the publisher did not start:\n%s", logs.String())
			return logs.String()
		}
		time.Sleep(20 * time.Millisecond)
	}
	body := `{"specversion":"1.0","id":"perm-ingest-1","source":"urn:scanner:kms-posture","type":"remediator.finding.kms.key_rotation_disabled",` +
		`"data":{"provider":"huawei","region":"cn-north-4","project_id":"` + demoProject + `","resource_type":"kms_key","resource_id":"2c3d4e5f-1111-4111-8111-00000000beef"}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer perm-test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("ingest as the publisher answered %d:\n%s", resp.StatusCode, logs.String())
	}
	return logs.String()
}

// waitIntakeSettled waits until the worker has settled every event of the
// intake and at least deadLetters are in the DLQ.
func waitIntakeSettled(t *testing.T, js jetstream.JetStream, deadLetters int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	settled := func() bool {
		c, err := js.Consumer(ctx, "REMEDIATION_EVENTS", "remediator")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || info.Delivered.Stream == 0 {
			return false
		}
		st, err := js.Stream(ctx, "REMEDIATION_DLQ")
		if err != nil {
			return false
		}
		si, err := st.Info(ctx)
		return err == nil && si.State.Msgs >= uint64(deadLetters)
	}
	for !settled() {
		if time.Now().After(deadline) {
			t.Errorf("the intake did not settle with %d dead letters", deadLetters)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOperatorCommands runs dlq list, audit tail and control as the
// operator user and checks what they print (audit tail --all ends after
// the last record on its own).
func checkOperatorCommands(t *testing.T, ns *natsProc, _ jetstream.JetStream, ops deployUser, outputs map[string]string) {
	t.Helper()
	raws, err := events.ReadFixtures("../../testdata/events/01-huawei-cts-rotation-disabled.json",
		"../../testdata/events/06-huawei-cts-rotation-disabled-unknown-key.json", "../../testdata/events/07-finding-invalid-key-id.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := runAs(t, ns, ops, "dlq", "list")
	outputs["dlq list"] = out
	if err != nil || !strings.Contains(out, raws[1].ID) || !strings.Contains(out, raws[2].ID) {
		t.Errorf("dlq list as %s: %v (want %s and %s)\n%s", ops.name, err, raws[1].ID, raws[2].ID, out)
	}
	out, err = runAs(t, ns, ops, "audit", "tail", "--all")
	outputs["audit tail"] = out
	for _, id := range []string{"perm-ingest-1", raws[0].ID} {
		if err != nil || !regexp.MustCompile(`remediated .* event=`+regexp.QuoteMeta(id)).MatchString(out) {
			t.Errorf("audit tail as %s: %v (want %s remediated)\n%s", ops.name, err, id, out)
		}
	}
	for _, args := range [][]string{{"control", "status"}, {"control", "circuits"}, {"control", "pause", "--for", "1m"}, {"control", "resume"}} {
		out, err := runAs(t, ns, ops, args...)
		outputs[strings.Join(args, " ")] = out
		if err != nil {
			t.Errorf("%s as %s: %v\n%s", strings.Join(args, " "), ops.name, err, out)
		}
	}
}

// checkPublisherDenied shows that the publisher cannot read the audit
// trail, consume the intake or write the ledger: each attempt fails and
// the server reports a permissions violation.
func checkPublisherDenied(t *testing.T, ns *natsProc, pub deployUser) {
	t.Helper()
	js, v := connectAs(t, ns, pub)
	nc := js.Conn()
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 2*time.Second)
	}
	denied := func(what, subject string, err error) {
		t.Helper()
		if err == nil || !v.waitFor(subject) {
			t.Errorf("the publisher could %s: err %v, no permissions violation for %s", what, err, subject)
			return
		}
		t.Logf("the publisher cannot %s: %v", what, err)
	}

	sub, err := nc.SubscribeSync("remediation.audit.>")
	if err == nil {
		_ = nc.Flush()
		_, err = sub.NextMsg(500 * time.Millisecond)
	}
	denied("subscribe to the audit subjects", "remediation.audit.>", err)

	c, cc := short()
	oc, err := js.OrderedConsumer(c, "REMEDIATION_AUDIT", jetstream.OrderedConsumerConfig{})
	if err == nil { // the consumer is created by the first fetch
		_, err = oc.Next(jetstream.FetchMaxWait(time.Second))
	}
	cc()
	denied("read the audit stream with a consumer", "$JS.API.CONSUMER.CREATE.REMEDIATION_AUDIT", err)

	c, cc = short()
	_, err = js.CreateOrUpdateConsumer(c, "REMEDIATION_EVENTS", jetstream.ConsumerConfig{Durable: "remediator", AckPolicy: jetstream.AckExplicitPolicy})
	cc()
	denied("create the intake consumer", "$JS.API.CONSUMER.CREATE.REMEDIATION_EVENTS", err)

	c, cc = short()
	_, err = nc.RequestWithContext(c, "$JS.API.CONSUMER.MSG.NEXT.REMEDIATION_EVENTS.remediator", []byte(`{"batch":1,"expires":500000000}`))
	cc()
	if err == nil {
		err = errors.New("no error")
	}
	denied("fetch from the intake consumer", "$JS.API.CONSUMER.MSG.NEXT.REMEDIATION_EVENTS.remediator", err)

	c, cc = short()
	_, err = js.Publish(c, "$KV.REMEDIATION_LEDGER.w.forged", []byte("0"))
	cc()
	denied("write to the ledger", "$KV.REMEDIATION_LEDGER.w.forged", err)
}

// inboxSpy is a plain client of the publisher subscribed to nats.go's
// default inbox and to the worker's and the operator's.
type inboxSpy struct {
	v        *violations
	subjects []string
	// intake counts, per subject, the intake deliveries received (their
	// reply subject acks on the intake consumer); all, every message.
	intake, all []atomic.Int64
}

// spyOnInboxes subscribes as the publisher to _INBOX.>, _INBOX_worker.>
// and _INBOX_ops.>, counting what arrives, before any event is published.
func spyOnInboxes(t *testing.T, ns *natsProc, pub deployUser) *inboxSpy {
	t.Helper()
	js, v := connectAs(t, ns, pub)
	s := &inboxSpy{v: v, subjects: []string{defaultInboxPrefix + ".>", "_INBOX_worker.>", "_INBOX_ops.>"}}
	s.intake, s.all = make([]atomic.Int64, len(s.subjects)), make([]atomic.Int64, len(s.subjects))
	for i, subj := range s.subjects {
		if _, err := js.Conn().Subscribe(subj, func(m *nats.Msg) {
			s.all[i].Add(1)
			if strings.HasPrefix(m.Reply, "$JS.ACK.REMEDIATION_EVENTS.remediator.") {
				s.intake[i].Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

// check: every subscription was refused and nothing arrived.
func (s *inboxSpy) check(t *testing.T) {
	t.Helper()
	for i, subj := range s.subjects {
		refused := s.v.waitFor(subj)
		n, all := s.intake[i].Load(), s.all[i].Load()
		switch {
		case !refused || all > 0:
			t.Errorf("the publisher subscribed to %s (refused: %t) and received %d intake deliveries meant for the worker, %d messages of other connections in all",
				subj, refused, n, all)
		default:
			t.Logf("the publisher cannot subscribe to %s: permissions violation, nothing received", subj)
		}
	}
}
