package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/streams"
)

// TestReloadRejectsAnEmptiedRuleFile runs `remediator run` with the
// built-in pack copied into a --rules directory, empties the Huawei file
// (what a reader sees of a file rewritten in place) and checks that the
// reload is rejected and drift events are still remediated; then an
// atomic replacement is accepted and its added, removed and changed rules
// are logged and counted.
func TestReloadRejectsAnEmptiedRuleFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"huawei.yaml", "alibaba.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "rules", "builtin", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(b))
	}
	ns := startNATSProcess(t, natsProcOptions{})
	sim, keys := crashSimulator()
	srv := startSim(t, sim)
	_, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--rules", dir,
		"--rules-poll", "50ms", "--http", "127.0.0.1:0", "--shutdown-timeout", "1s")
	ops := waitMatch(t, logs, `"msg":"ops_listening","addr":"([^"]+)"`)
	waitFor(t, "worker_started", func() bool { return strings.Contains(logs.String(), "worker_started") })

	huawei := filepath.Join(dir, "huawei.yaml")
	original, _ := os.ReadFile(huawei)
	writeFile(t, huawei, "")
	waitFor(t, "the reload after emptying a file", func() bool {
		return strings.Contains(logs.String(), "rules_reload_failed") || strings.Contains(logs.String(), "rules_reloaded")
	})
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ids := publishDrift(t, nc, keys[:10], "reload")
	got := waitOutcomes(t, logs, ids)
	t.Logf("after emptying huawei.yaml: outcomes of %d drift events %v", len(ids), got)
	if !strings.Contains(logs.String(), `huawei.yaml:1:1: the file is empty`) {
		t.Errorf("the reload of the emptied file was not rejected with its reason:\n%s", tail(logs.String(), 3000))
	}
	if got["remediated"] != len(ids) {
		t.Errorf("%d of %d drift events remediated (%v)", got["remediated"], len(ids), got)
	}

	// The atomic way: a whole new file under a temporary name, renamed.
	next := strings.Replace(string(original), "name: huawei-evs-default-key-finding", "name: huawei-evs-default-key-finding-v2", 1)
	next = strings.Replace(next, "A scanner reports a KMS key whose rotation is off: turn it on.", "A scanner reports rotation off: turn it on.", 1)
	writeFile(t, filepath.Join(dir, ".huawei.yaml.tmp"), next)
	if err := os.Rename(filepath.Join(dir, ".huawei.yaml.tmp"), huawei); err != nil {
		t.Fatal(err)
	}
	line := waitMatch(t, logs, `("msg":"rules_reloaded".*)`)
	for _, want := range []string{`"rules":12`, `"added":["huawei-evs-default-key-finding-v2"]`,
		`"removed":["huawei-evs-default-key-finding"]`, `"changed":["huawei-kms-rotation-disabled-finding"]`} {
		if !strings.Contains(line, want) {
			t.Errorf("reload line lacks %s: %s", want, line)
		}
	}
	metrics := httpGet(t, "http://"+ops+"/metrics")
	for _, want := range []string{`remediator_rule_reloads_total{result="rejected"} 1`, `remediator_rule_reloads_total{result="ok"} 1`,
		`remediator_rule_changes_total{change="added"} 1`, `remediator_rule_changes_total{change="removed"} 1`,
		`remediator_rule_changes_total{change="changed"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// publishDrift publishes one "rotation disabled" CTS event per key and
// returns their ids.
func publishDrift(t *testing.T, nc *nats.Conn, keys []string, prefix string) []string {
	t.Helper()
	js, _ := jetstream.New(nc)
	var ids []string
	for i, key := range keys {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS",
			"type": "KMS:CloudTrace:ApiCall", "data": map[string]any{"trace_name": "disableKeyRotation", "code": "200",
				"resource_id": key, "project_id": crashProject, "region_id": "cn-north-4"}})
		if _, err := streams.Publish(context.Background(), js, worker.DefaultConfig().Streams(), events.Raw{Body: body, Source: "HC.KMS", ID: id}, events.Structured); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// waitOutcomes waits for a final decision line for every id and counts
// their outcomes.
func waitOutcomes(t *testing.T, logs *syncBuffer, ids []string) map[string]int {
	t.Helper()
	var got map[string]int
	waitFor(t, "a decision for every event", func() bool {
		last := map[string]string{}
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct{ Msg, EventID, Outcome string }
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "decision" {
				continue
			}
			rec.EventID, _ = m["event_id"].(string)
			rec.Outcome, _ = m["outcome"].(string)
			if rec.Outcome != "retrying" {
				last[rec.EventID] = rec.Outcome
			}
		}
		got = map[string]int{}
		for _, id := range ids {
			if o, ok := last[id]; ok {
				got[o]++
			}
		}
		n := 0
		for _, c := range got {
			n += c
		}
		return n == len(ids)
	})
	return got
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestReloadRejectsAnOversizedRuleFile: a rule file that grows past
// --max-rule-file-bytes is refused on reload before it is parsed; the
// running set stays and drift events are still remediated.
func TestReloadRejectsAnOversizedRuleFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "rules", "builtin", "huawei.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	huawei := filepath.Join(dir, "huawei.yaml")
	writeFile(t, huawei, string(b))
	ns := startNATSProcess(t, natsProcOptions{})
	sim, keys := crashSimulator()
	srv := startSim(t, sim)
	_, logs := startChild(t, "run", "--nats-url", ns.URL(), "--cloud-endpoint", srv.URL(), "--rules", dir,
		"--rules-poll", "50ms", "--max-rule-file-bytes", "20000", "--shutdown-timeout", "1s")
	waitFor(t, "worker_started", func() bool { return strings.Contains(logs.String(), "worker_started") })

	grown := string(b) + "\n# padding\n" + strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 250)
	writeFile(t, filepath.Join(dir, ".huawei.yaml.tmp"), grown)
	if err := os.Rename(filepath.Join(dir, ".huawei.yaml.tmp"), huawei); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejected reload", func() bool { return strings.Contains(logs.String(), "rules_reload_failed") })
	if !strings.Contains(logs.String(), "the limit is 20000") {
		t.Errorf("the reload was not rejected for its size:\n%s", tail(logs.String(), 3000))
	}
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ids := publishDrift(t, nc, keys[:5], "oversized")
	if got := waitOutcomes(t, logs, ids); got["remediated"] != len(ids) {
		t.Errorf("%d of %d drift events remediated after the rejected reload (%v)", got["remediated"], len(ids), got)
	}
}
