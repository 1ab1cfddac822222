package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The ingest door tests run `remediator ingest` as a child process against
// a nats-server process and talk to it over HTTP, as the event buses do.

const (
	doorTokenACS = "door-acs-token"
	doorTokenHC  = "door-hc-token"
)

// ingestDoor is a running `remediator ingest` child.
type ingestDoor struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *syncBuffer
	base string // http://addr of the CloudEvents listener
	ops  string // http://addr of --http
}

// startIngestDoor starts `ingest` against natsURL with sources acs.* and
// HC.* (bearer tokens: the signature scheme is not under test here) and
// the given extra flags, and waits for both listeners.
func startIngestDoor(t *testing.T, natsURL string, extra ...string) *ingestDoor {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir+"/acs", doorTokenACS)
	writeFile(t, dir+"/hc", doorTokenHC)
	writeFile(t, dir+"/sources.yaml", "sources:\n"+
		"  - {source: \"acs.*\", token_file: "+dir+"/acs}\n"+
		"  - {source: \"HC.*\", token_file: "+dir+"/hc}\n")
	args := append([]string{"ingest", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--nats-url", natsURL,
		"--sources", dir + "/sources.yaml"}, extra...)
	cmd, logs := startChild(t, args...)
	d := &ingestDoor{t: t, cmd: cmd, logs: logs}
	d.base = "http://" + waitMatch(t, logs, `"msg":"ingest_listening","addr":"([^"]+)"`)
	d.ops = "http://" + waitMatch(t, logs, `"msg":"ops_listening","addr":"([^"]+)"`)
	return d
}

// post sends body with the given headers (and the token of the source's
// family) and returns the status and the JSON reason, if any.
func (d *ingestDoor) post(token string, hdr map[string]string, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.base, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("post: %v\n%s", err, d.logs.String())
	}
	defer resp.Body.Close()
	var r struct{ Reason string }
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &r)
	return resp.StatusCode, r.Reason
}

// postEvent posts one structured event.
func (d *ingestDoor) postEvent(token, id, source, typ string) (int, string) {
	d.t.Helper()
	ev, _ := json.Marshal(map[string]string{"specversion": "1.0", "id": id, "source": source, "type": typ})
	return d.post(token, map[string]string{"Content-Type": "application/cloudevents+json"}, string(ev))
}

func (d *ingestDoor) get(path string) int {
	d.t.Helper()
	resp, err := http.Get(d.ops + path)
	if err != nil {
		d.t.Fatalf("get %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (d *ingestDoor) waitStatus(path string, want int) {
	d.t.Helper()
	waitFor(d.t, fmt.Sprintf("%s to answer %d", path, want), func() bool { return d.get(path) == want })
}

// TestIngestLongSourceKeepsDoorOpen: one event whose source is 5,000
// characters under an allowed prefix used to make a subject over the
// server's 4 KiB control line; the server closed the connection, nats.go
// did not reopen it, and every later request got 503 (20 of 20). Now the
// request is refused with 400, later requests get 202, and /readyz stays
// 200.
func TestIngestLongSourceKeepsDoorOpen(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	d := startIngestDoor(t, ns.URL())
	if c, _ := d.postEvent(doorTokenACS, "first", "acs.ecs", "ecs:ActionTrail:ApiCall"); c != http.StatusAccepted {
		t.Fatalf("first valid event: %d", c)
	}
	c, reason := d.postEvent(doorTokenACS, "long", "acs."+strings.Repeat("x", 5000), "ecs:ActionTrail:ApiCall")
	if c != http.StatusBadRequest || reason != "invalid_event" {
		t.Errorf("5,000-char source: %d %q, want 400 invalid_event", c, reason)
	}
	long := 0
	for _, attr := range []string{"id", "type", "subject", "longext"} {
		ev := map[string]string{"specversion": "1.0", "id": "a-" + attr, "source": "acs.ecs", "type": "ecs:ActionTrail:ApiCall"}
		ev[attr] = strings.Repeat("y", 5000)
		b, _ := json.Marshal(ev)
		if c, _ := d.post(doorTokenACS, map[string]string{"Content-Type": "application/cloudevents+json"}, string(b)); c != http.StatusBadRequest {
			t.Errorf("5,000-byte %s: %d, want 400", attr, c)
			long++
		}
	}
	unavailable := 0
	for i := range 20 {
		if c, _ := d.postEvent(doorTokenACS, fmt.Sprintf("later-%d", i), "acs.ecs", "ecs:ActionTrail:ApiCall"); c != http.StatusAccepted {
			unavailable++
		}
	}
	t.Logf("after one 5,000-char source: %d of 20 later valid requests not 202; %d long attributes not 400", unavailable, long)
	if unavailable > 0 {
		t.Errorf("%d of 20 later valid requests were not accepted\n%s", unavailable, d.logs.String())
	}
	if c := d.get("/readyz"); c != http.StatusOK {
		t.Errorf("/readyz %d after the long source", c)
	}
	if c := d.get("/healthz"); c != http.StatusOK {
		t.Errorf("/healthz %d", c)
	}
	resp, err := http.Get(d.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`remediator_ingest_accepted_total 21`, `remediator_ingest_rejected_total{reason="invalid_event"} 5`, "go_goroutines"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestIngestReadyzFollowsNATS: with the NATS server killed /readyz goes
// 503 (and a request gets 503, so the bus retries); after the restart it
// is 200 again and a request is accepted.
func TestIngestReadyzFollowsNATS(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	d := startIngestDoor(t, ns.URL())
	d.waitStatus("/readyz", http.StatusOK)
	ns.Kill()
	d.waitStatus("/readyz", http.StatusServiceUnavailable)
	if c := d.get("/healthz"); c != http.StatusOK {
		t.Errorf("/healthz %d while NATS is down", c)
	}
	ns.Restart()
	d.waitStatus("/readyz", http.StatusOK)
	if c, _ := d.postEvent(doorTokenACS, "after-restart", "acs.ecs", "ecs:ActionTrail:ApiCall"); c != http.StatusAccepted {
		t.Errorf("after the restart: %d", c)
	}
}

// TestIngestExitsWhenConnectionCloses: a connection nats.go will not
// reopen (here: the server, restarted, refuses its credentials twice) ends the
// process with a non-zero exit, so a supervisor restarts it, instead of a
// live process answering 503 for ever.
func TestIngestExitsWhenConnectionCloses(t *testing.T) {
	t.Parallel()
	// probe is the user of the helper's own readiness checks (no credentials).
	ns := startNATSProcess(t, natsProcOptions{Extra: "authorization { users: [{user: door, password: first}, {user: probe, password: probe}] }\nno_auth_user: probe\n"})
	d := startIngestDoor(t, strings.Replace(ns.URL(), "nats://", "nats://door:first@", 1))
	d.waitStatus("/readyz", http.StatusOK)
	conf := strings.Replace(readFileT(t, ns.conf), "password: first", "password: second", 1)
	writeFile(t, ns.conf, conf)
	ns.Restart()
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("exit 0 after the connection closed, want non-zero")
		}
		if !strings.Contains(d.logs.String(), "nats_connection_closed") {
			t.Errorf("no nats_connection_closed line:\n%s", d.logs.String())
		}
	case <-time.After(12 * time.Second):
		t.Errorf("still running 12 s after the connection could not be reopened; /readyz %d\n%s", d.get("/readyz"), d.logs.String())
	}
}

// TestIngestPermanentErrorsAre4xx: requests that can never succeed are
// answered 4xx, not 503 (which makes the bus retry them for ever).
func TestIngestPermanentErrorsAre4xx(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	const maxBody = 512 << 10
	d := startIngestDoor(t, ns.URL(), "--max-body", fmt.Sprint(maxBody))
	binary := func(ct string) map[string]string {
		return map[string]string{"Content-Type": ct, "ce-specversion": "1.0", "ce-id": "bin-" + ct, "ce-source": "acs.ecs", "ce-type": "ecs:ActionTrail:ApiCall"}
	}
	// A structured event of exactly --max-body whose data is all '<':
	// re-encoded, each becomes \u003c, six times the size.
	head := `{"specversion":"1.0","id":"escaped","source":"acs.ecs","type":"ecs:ActionTrail:ApiCall","datacontenttype":"application/json","data":"`
	escaped := head + strings.Repeat("<", maxBody-len(head)-2) + `"}`
	quoted := strings.Repeat(`"`, maxBody) // binary text/plain: each " becomes \"
	cases := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		reason string
	}{
		{"binary json that is not json", binary("application/json"), "{not json", http.StatusBadRequest, "invalid_event"},
		{"structured, grows past the intake when re-encoded", map[string]string{"Content-Type": "application/cloudevents+json"}, escaped, http.StatusRequestEntityTooLarge, "too_large"},
		{"binary text, grows past the intake when re-encoded", binary("text/plain"), quoted, http.StatusRequestEntityTooLarge, "too_large"},
		{"binary json, fits", binary("application/json"), `{"ok":true}`, http.StatusAccepted, ""},
	}
	for _, tc := range cases {
		if len(tc.body) > maxBody {
			t.Fatalf("%s: body %d bytes", tc.name, len(tc.body))
		}
		c, reason := d.post(doorTokenACS, tc.hdr, tc.body)
		t.Logf("%s: %d %s", tc.name, c, reason)
		if c != tc.status || reason != tc.reason {
			t.Errorf("%s: %d %q, want %d %q", tc.name, c, reason, tc.status, tc.reason)
		}
	}
	if c, _ := d.postEvent(doorTokenACS, "still-open", "acs.ecs", "ecs:ActionTrail:ApiCall"); c != http.StatusAccepted {
		t.Errorf("a valid event afterwards: %d", c)
	}
}

// TestIngestAllowlistGlobs: README's own examples match through the real
// binary: --allow-type '*:ActionTrail:ApiCall' and 'KMS:CloudTrace:*',
// sources acs.* and HC.*.
func TestIngestAllowlistGlobs(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	d := startIngestDoor(t, ns.URL(), "--allow-type", "*:ActionTrail:ApiCall", "--allow-type", "KMS:CloudTrace:*")
	cases := []struct {
		token, source, typ string
		status             int
		reason             string
	}{
		{doorTokenACS, "acs.ecs", "ecs:ActionTrail:ApiCall", http.StatusAccepted, ""},
		{doorTokenACS, "acs.kms", "kms:ActionTrail:ApiCall", http.StatusAccepted, ""},
		{doorTokenHC, "HC.KMS", "KMS:CloudTrace:ApiCall", http.StatusAccepted, ""},
		{doorTokenHC, "HC.KMS", "KMS:CloudTrace:ConsoleAction", http.StatusAccepted, ""},
		{doorTokenACS, "acs.ecs", "ecs:ActionTrail:ConsoleSignin", http.StatusForbidden, "type_not_allowed"},
		{doorTokenHC, "HC.OBS", "OBS:CloudTrace:ApiCall", http.StatusForbidden, "type_not_allowed"},
		{doorTokenACS, "acsx.ecs", "ecs:ActionTrail:ApiCall", http.StatusForbidden, "source_not_allowed"},
		{doorTokenHC, "hc.KMS", "KMS:CloudTrace:ApiCall", http.StatusForbidden, "source_not_allowed"},
	}
	wrong := 0
	for i, tc := range cases {
		c, reason := d.postEvent(tc.token, fmt.Sprintf("glob-%d", i), tc.source, tc.typ)
		if c != tc.status || reason != tc.reason {
			wrong++
			t.Errorf("%s %s: %d %q, want %d %q", tc.source, tc.typ, c, reason, tc.status, tc.reason)
		}
	}
	t.Logf("README allowlist examples: %d of %d answered wrongly", wrong, len(cases))
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReplayLongSource: replay builds its subject from the event's source
// too; a 5,000-char source used to get its connection closed by the
// server (exit 1, the event after it never published). Now both publish.
func TestReplayLongSource(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	dir := t.TempDir()
	writeFile(t, dir+"/a-long.json", `{"specversion":"1.0","id":"r-long","source":"acs.`+strings.Repeat("x", 5000)+`","type":"ecs:ActionTrail:ApiCall"}`)
	writeFile(t, dir+"/b-short.json", `{"specversion":"1.0","id":"r-short","source":"acs.ecs","type":"ecs:ActionTrail:ApiCall"}`)
	var out, errb syncBuffer
	code := run(context.Background(), []string{"replay", "--nats-url", ns.URL(), dir}, &out, &errb)
	t.Logf("replay: exit %d: %s", code, strings.TrimSpace(out.String()))
	if code != 0 || !strings.Contains(out.String(), "published 2, duplicate 0, rejected 0") {
		t.Errorf("replay exit %d: %s %s", code, out.String(), errb.String())
	}
}
