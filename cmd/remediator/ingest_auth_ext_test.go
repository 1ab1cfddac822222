package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/ingest"
)

const (
	extToken  = "acs-bearer-token-ext"
	extSecret = "hc-hmac-secret-ext"
)

// ingestProc is `remediator ingest` running as a child process against a
// nats-server process.
type ingestProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	addr string
	nats *natsProc
}

// startIngestProc starts both, with "acs.*" authenticated by a bearer token
// and "HC.*" by an HMAC secret.
func startIngestProc(t *testing.T, flags ...string) *ingestProc {
	t.Helper()
	np := startNATSProcess(t, natsProcOptions{})
	dir := t.TempDir()
	writeFile(t, dir+"/token", extToken+"\n")
	writeFile(t, dir+"/secret", extSecret+"\n")
	writeFile(t, dir+"/sources.yaml", "sources:\n  - {source: \"acs.*\", token_file: "+dir+"/token}\n  - {source: \"HC.*\", hmac_secret_file: "+dir+"/secret}\n")
	args := append([]string{"ingest", "--listen", "127.0.0.1:0", "--nats-url", np.URL(), "--sources", dir + "/sources.yaml"}, flags...)
	cmd, logs := startChild(t, args...)
	re := regexp.MustCompile(`"msg":"ingest_listening".*"addr":"(127\.0\.0\.1:\d+)"`)
	p := &ingestProc{cmd: cmd, logs: logs, nats: np}
	waitFor(t, "ingest to listen", func() bool {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			p.addr = m[1]
		}
		return p.addr != ""
	})
	return p
}

// post sends one request and returns its status and reason.
func (p *ingestProc) post(t *testing.T, header http.Header, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr, strings.NewReader(body))
	req.Header = header
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Reason string }
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.Reason
}

// stored counts the events in the intake stream.
func (p *ingestProc) stored(t *testing.T) uint64 {
	t.Helper()
	return intakeCount(t, p.nats.URL())
}

// stop ends ingest with SIGTERM and returns its counts from the last log line.
func (p *ingestProc) stop(t *testing.T) map[string]int64 {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var rec struct {
			Msg    string           `json:"msg"`
			Counts map[string]int64 `json:"counts"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "ingest_stopped" {
			return rec.Counts
		}
	}
	t.Fatalf("no ingest_stopped line:\n%s", p.logs.String())
	return nil
}

func binaryHeader(id, source, typ string) http.Header {
	return http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {id}, "Ce-Source": {source}, "Ce-Type": {typ}, "Content-Type": {"application/json"}}
}

// TestIngestSignatureCoversAttributesAndTime: a binary-mode event signed
// with the source's secret is stored; the same signature with ce-id,
// ce-type or ce-source changed, one whose timestamp is outside the window,
// the old body-only form, and no signature are all refused with 401 and
// their reason, and none of them is stored.
func TestIngestSignatureCoversAttributesAndTime(t *testing.T) {
	t.Parallel()
	p := startIngestProc(t)
	body := `{"trace_name":"DeleteKey"}`
	h := binaryHeader("ev-1", "HC.KMS", "KMS:CloudTrace:ApiCall")
	sig, err := ingest.Sign(extSecret, time.Now(), h, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := ingest.Sign(extSecret, time.Now().Add(-6*time.Minute), h, []byte(body))
	future, _ := ingest.Sign(extSecret, time.Now().Add(6*time.Minute), h, []byte(body))
	with := func(k, v, s string) http.Header {
		c := h.Clone()
		if k != "" {
			c.Set(k, v)
		}
		if s != "" {
			c.Set(ingest.SignatureHeader, s)
		}
		return c
	}
	cases := []struct {
		name   string
		header http.Header
		status int
		reason string
	}{
		{"ce-id changed", with("Ce-Id", "ev-2", sig), 401, "signature_invalid"},
		{"ce-type changed", with("Ce-Type", "KMS:CloudTrace:Other", sig), 401, "signature_invalid"},
		{"ce-source changed", with("Ce-Source", "HC.EVS", sig), 401, "signature_invalid"},
		{"replayed after the window", with("", "", stale), 401, "timestamp_outside_window"},
		{"timestamp in the future", with("", "", future), 401, "timestamp_outside_window"},
		{"old body-only form", with("", "", legacyBodySignature(body)), 401, "signature_legacy"},
		{"no signature", with("", "", ""), 401, "credentials_missing"},
		{"fresh and correct", with("", "", sig), 202, ""},
	}
	for _, tc := range cases {
		if st, reason := p.post(t, tc.header, body); st != tc.status || reason != tc.reason {
			t.Errorf("%s: %d %q, want %d %q", tc.name, st, reason, tc.status, tc.reason)
		}
	}
	if n := p.stored(t); n != 1 {
		t.Errorf("%d events stored, want 1 (only the untampered one)", n)
	}
	if logs := p.logs.String(); strings.Contains(logs, extSecret) || strings.Contains(logs, sig[strings.Index(sig, "v1=")+3:]) {
		t.Error("a secret or a signature appears in the logs")
	}
}

// TestIngestUnknownSourceLooksLikeWrongCredential: without a valid
// credential, a request for a source that is not configured gets the very
// answer of one for a configured source with a wrong credential.
func TestIngestUnknownSourceLooksLikeWrongCredential(t *testing.T) {
	t.Parallel()
	p := startIngestProc(t)
	body := `{"x":1}`
	for _, mode := range []string{"bearer", "signed"} {
		var got []string
		for _, src := range []string{"acs.ecs", "HC.KMS", "nobody.knows"} {
			h := binaryHeader("ev-"+src, src, "t")
			if mode == "bearer" {
				h.Set("Authorization", "Bearer wrong-token")
			} else {
				s, _ := ingest.Sign("wrong-secret", time.Now(), h, []byte(body))
				h.Set(ingest.SignatureHeader, s)
			}
			st, reason := p.post(t, h, body)
			got = append(got, strconv.Itoa(st)+" "+reason)
		}
		if got[0] != got[1] || got[1] != got[2] || !strings.HasPrefix(got[0], "401 ") {
			t.Errorf("%s: answers for a token source, an HMAC source and an unknown one: %v; want the same 401", mode, got)
		}
	}
}

// TestIngestSignatureFromOpenSSL signs a request with exactly the shell
// commands of the README (printf | openssl dgst) and posts it.
func TestIngestSignatureFromOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH")
	}
	p := startIngestProc(t)
	const script = `t=$(date +%s)
sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s' "$t" "1.0" "$CE_ID" "$CE_SOURCE" "$CE_TYPE" "$BODY" \
  | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')
echo "t=$t,v1=$sig"`
	body := `{"trace_name":"ScheduleKeyDeletion","note":"50% off; a \"quoted\" line"}`
	sh := exec.Command("sh", "-c", script)
	sh.Env = append(os.Environ(), "CE_ID=ev-openssl", "CE_SOURCE=HC.KMS", "CE_TYPE=KMS:CloudTrace:ApiCall", "BODY="+body, "SECRET="+extSecret)
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	h := binaryHeader("ev-openssl", "HC.KMS", "KMS:CloudTrace:ApiCall")
	h.Set(ingest.SignatureHeader, strings.TrimSpace(string(out)))
	if st, reason := p.post(t, h, body); st != 202 {
		t.Fatalf("signed with openssl: %d %s", st, reason)
	}
	if n := p.stored(t); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

// legacyBodySignature is the form ingest accepted before: "sha256=" and the
// HMAC-SHA256 of the body alone.
func legacyBodySignature(body string) string {
	m := hmac.New(sha256.New, []byte(extSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
