package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
)

// Prometheus adds these labels to every scraped series (the target's), and
// makes the up series itself.
var (
	targetLabels     = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
	synthetic        = map[string]bool{"up": true}
	dashboardFile    = filepath.Join("grafana", "remediator.json")
	alertsFile       = filepath.Join("prometheus", "alerts.yaml")
	reDuration       = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	reCamel          = regexp.MustCompile(`^Remediator[A-Z][A-Za-z]+$`)
	allowedSeverity  = map[string]bool{"critical": true, "warning": true, "info": true}
	requiredCoverage = map[string]string{ // what an on-call needs alerted, and a series that shows it
		"the worker down or unscraped": "up",
		"dead letters growing":         "remediator_dlq_messages",
		"a circuit open":               "remediator_events_total",
		"events held by a circuit":     "remediator_rate_limit_waits_total",
		"intake lag":                   "remediator_event_latency_seconds_bucket",
		"writes failing":               "remediator_actions_total",
	}
)

// ruleFile is Prometheus's rule file format (the alerting part).
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert         string            `json:"alert"`
			Expr          string            `json:"expr"`
			For           string            `json:"for,omitempty"`
			KeepFiringFor string            `json:"keep_firing_for,omitempty"`
			Labels        map[string]string `json:"labels"`
			Annotations   map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readAlerts(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return rf
}

// TestAlertRulesStructure checks alerts.yaml as promtool would where it
// can (promtool is not available): strict structure, names, durations,
// severities, annotations, balanced expressions, and an alert for each
// thing an on-call must hear about.
func TestAlertRulesStructure(t *testing.T) {
	t.Parallel()
	rf := readAlerts(t)
	if len(rf.Groups) == 0 {
		t.Fatalf("%s: no groups", alertsFile)
	}
	seen := map[string]bool{}
	named := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q without a name or rules", alertsFile, g.Name)
		}
		for _, r := range g.Rules {
			where := fmt.Sprintf("%s: alert %s", alertsFile, r.Alert)
			if !reCamel.MatchString(r.Alert) || seen[r.Alert] {
				t.Errorf("%s: name not RemediatorCamelCase, or repeated", where)
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" || strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") ||
				strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") || strings.Count(r.Expr, "[") != strings.Count(r.Expr, "]") {
				t.Errorf("%s: expr empty or unbalanced: %s", where, r.Expr)
			}
			for _, d := range []string{r.For, r.KeepFiringFor} {
				if d != "" && !reDuration.MatchString(d) {
					t.Errorf("%s: %q is not a Prometheus duration", where, d)
				}
			}
			if !allowedSeverity[r.Labels["severity"]] {
				t.Errorf("%s: severity %q, want critical, warning or info", where, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", where)
			}
			for _, s := range parseQuery(r.Expr).selectors {
				named[s.name] = true
			}
		}
	}
	for what, series := range requiredCoverage {
		if !named[series] {
			t.Errorf("%s: no alert on %s (%s)", alertsFile, what, series)
		}
	}
}

// dashboard is the part of Grafana's dashboard model checked here.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// TestDashboardStructure: the dashboard imports as it is: a uid, a
// Prometheus data source variable every query panel uses, unique panel
// ids, a grid position and an expression in every target.
func TestDashboardStructure(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("%s: title %q uid %q", dashboardFile, d.Title, d.UID)
	}
	dsVar := false
	for _, v := range d.Templating.List {
		dsVar = dsVar || (v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"`)
	}
	if !dsVar {
		t.Errorf("%s: no datasource variable of type prometheus", dashboardFile)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: panel %q: id %d repeated, or no or a bad gridPos", dashboardFile, p.Title, p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: panel %q does not query ${datasource}", dashboardFile, p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: panel %q: a target without expr or with a repeated refId", dashboardFile, p.Title)
			}
			refs[tg.RefID] = true
			queries++
		}
	}
	if queries < 10 {
		t.Errorf("%s: only %d queries", dashboardFile, queries)
	}
}

// queries are every PromQL expression of the dashboard (panels and
// template variables) and of the alert rules, with where each is.
func queries(t *testing.T) map[string]query {
	t.Helper()
	out := map[string]query{}
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("%s: panel %q %s", dashboardFile, p.Title, tg.RefID)] = parseQuery(tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		var q struct{ Query string }
		if v.Type == "query" && json.Unmarshal(v.Query, &q) == nil {
			out[fmt.Sprintf("%s: variable %s", dashboardFile, v.Name)] = grafanaQuery(q.Query)
		}
	}
	for _, g := range readAlerts(t).Groups {
		for _, r := range g.Rules {
			out[fmt.Sprintf("%s: alert %s", alertsFile, r.Alert)] = parseQuery(r.Expr)
		}
	}
	return out
}

// TestQueriedSeriesAreExported runs the binary as it is deployed, `run
// --http` and `ingest --http`, against the cloud simulator; lets it
// handle the demo's events (a throttled write, remediations, dead
// letters), reload its rules and ingest an accepted and a refused
// request; then checks that every series the dashboard and the alerts
// query is in the scrapes, with the labels they filter and group by, and
// that outcome and reason values are ones the worker can report.
func TestQueriedSeriesAreExported(t *testing.T) {
	t.Parallel()
	worker, ingest := scrapeRunningBinary(t)
	fams := parseExposition(worker + "\n" + ingest)
	outcomes := []string{string(audit.Remediated), string(audit.AlreadyCompliant), string(audit.Planned), string(audit.NoMatch),
		string(audit.OutOfScope), string(audit.Untrusted), string(audit.Exempt), string(audit.DeadLettered), string(audit.Retrying),
		string(audit.Released), string(audit.Superseded), string(audit.CircuitOpen)}
	var reasons []string
	for _, r := range audit.Reasons {
		reasons = append(reasons, string(r))
	}
	known := map[string][]string{"outcome": outcomes, "reason": reasons}
	for where, q := range queries(t) {
		if len(q.selectors) == 0 {
			t.Errorf("%s: no series found in %q", where, q.expr)
		}
		labels := slices.Clone(targetLabels)
		for _, s := range q.selectors {
			if synthetic[s.name] {
				continue
			}
			fam, ok := lookup(fams, s.name)
			if !ok {
				t.Errorf("%s: %s is not exported (or is a histogram queried without _bucket, _sum or _count); the scrapes have %v", where, s.name, keys(fams))
				continue
			}
			for l := range fam.labels {
				labels = append(labels, l)
			}
			for _, m := range s.matchers {
				if !fam.labels[m.label] && !slices.Contains(targetLabels, m.label) {
					t.Errorf("%s: %s has no label %s", where, s.name, m.label)
				}
				if vals := known[m.label]; vals != nil && strings.HasPrefix(s.name, "remediator_") && !strings.HasPrefix(s.name, "remediator_ingest_") {
					for _, v := range strings.Split(m.value, "|") {
						if !slices.Contains(vals, v) {
							t.Errorf("%s: %s{%s%s%q}: %q is no %s the worker reports", where, s.name, m.label, m.op, m.value, v, m.label)
						}
					}
				}
			}
		}
		for _, g := range q.grouping {
			if !slices.Contains(labels, g) {
				t.Errorf("%s: groups by %s, which none of its series has", where, g)
			}
		}
	}
}

// scrapeRunningBinary returns the /metrics of `run` and of `ingest`.
func scrapeRunningBinary(t *testing.T) (string, string) {
	t.Helper()
	bin := dockerBinary(t)
	seed, err := cloudsim.LoadSeed(filepath.Join("..", "testdata", "cloudsim", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	sim.Inject(cloudsim.Fault{Op: "kms.enable-key-rotation", Count: 1, Status: 429, Code: "APIGW.0308", Message: "throttled"})
	srv, err := cloudsim.Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(t.Context()) })

	home := t.TempDir() // the Huawei SDK writes ~/.huaweicloud
	run, runLog := startBinary(t, home, bin, "run", "--data-dir", t.TempDir(), "--embedded-listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--cloud-endpoint", srv.URL(), "--rules", filepath.Join("..", "testdata", "rules", "demo"), "--builtin",
		"--retry-base", "200ms", "--throttle-base", "300ms", "--sweep-every", "1h", "--sweep-account", "huawei=5f1e2d3c4b5a69788796a5b4c3d2e1f0")
	ops := waitLog(t, runLog, `"msg":"ops_listening","addr":"([^"]+)"`)
	natsURL := waitLog(t, runLog, `"client_url":"([^"]+)"`)
	waitLog(t, runLog, `"msg":"(worker_started)"`)
	if out, err := exec.Command(bin, "replay", "--nats-url", natsURL, filepath.Join("..", "testdata", "events")).CombinedOutput(); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "events", "*.json"))
	// The sweep's findings are decided too, so the count alone can be
	// reached before the throttled fixture's retry: wait for that as well.
	waitMetrics(t, ops, "every fixture decided, the throttled one retried and a sweep finished", func(m string) bool {
		return sampleValue(m, "remediator_event_latency_seconds_count") >= float64(len(fixtures)) && sampleValue(m, "remediator_sweeps_total") >= 1 &&
			strings.Contains(m, "remediator_retries_total{")
	})
	if err := run.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	worker := waitMetrics(t, ops, "the rule reload", func(m string) bool { return strings.Contains(m, "remediator_rule_reloads_total{") })

	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "token"), "deploy-test-token\n")
	writeTestFile(t, filepath.Join(dir, "sources.yaml"), "sources:\n  - {source: \"acs.*\", token_file: "+filepath.Join(dir, "token")+"}\n")
	_, ingLog := startBinary(t, home, bin, "ingest", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--nats-url", natsURL,
		"--sources", filepath.Join(dir, "sources.yaml"))
	door := waitLog(t, ingLog, `"msg":"ingest_listening","addr":"([^"]+)"`)
	ingOps := waitLog(t, ingLog, `"msg":"ops_listening","addr":"([^"]+)"`)
	for token, want := range map[string]int{"deploy-test-token": http.StatusAccepted, "": http.StatusUnauthorized} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+door, strings.NewReader(`{"specversion":"1.0","id":"d-1","source":"acs.ecs","type":"ecs:ActionTrail:ApiCall"}`))
		req.Header.Set("Content-Type", "application/cloudevents+json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("ingest answered %d, want %d", resp.StatusCode, want)
		}
	}
	ingest := waitMetrics(t, ingOps, "the ingest counters", func(m string) bool { return strings.Contains(m, "remediator_ingest_rejected_total{") })
	return worker, ingest
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBinary starts bin with args, HOME set to home and no NATS_URL,
// and stops it with SIGTERM when the test ends.
func startBinary(t *testing.T, home, bin string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	var logs lockedBuffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "NATS_URL=")
	cmd.Stderr, cmd.Stdout = &logs, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", args[0], logs.String())
		}
	})
	return cmd, &logs
}

func waitLog(t *testing.T, logs *lockedBuffer, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log line matching %s after 30s", pattern)
	return ""
}

func waitMetrics(t *testing.T, addr, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if last = string(b); ok(last) {
				return last
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waiting for %s in http://%s/metrics: not there after 60s; last scrape:\n%s", what, addr, last)
	return ""
}

// sampleValue is the value of the unlabelled sample name, or -1.
func sampleValue(text, name string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
