package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestCloudsimCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"cloudsim", "--listen", "127.0.0.1:0", "--seed", "../../testdata/cloudsim/demo.yaml"}, &out, &errb)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	waitFor(t, "the listening line", func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	resp, err := http.Get(url + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "0d0466b0-e727-4d9c-b35d-f84bb474a37f") {
		t.Errorf("state does not hold the seeded key: %s", b)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d: %s", c, errb.String())
	}
}

func TestCloudsimBadSeed(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	c := run(context.Background(), []string{"cloudsim", "--listen", "127.0.0.1:0", "--seed", "../../testdata/cloudsim/invalid_unknown_key.yaml"}, &out, &errb)
	if c != 1 || !strings.Contains(errb.String(), "field rotaton not found") {
		t.Errorf("exit %d, stderr %q", c, errb.String())
	}
}

func TestRunRejectsInvalidRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir+"/bad.yaml", "rules:\n  - name: r\n    match: {type: t}\n    action: nope\n")
	var out, errb syncBuffer
	c := run(context.Background(), []string{"run", "--data-dir", t.TempDir(), "--embedded-listen", "", "--rules", dir}, &out, &errb)
	if c != 1 || !strings.Contains(errb.String(), `bad.yaml:4:13: rules[r].action: unknown action "nope"`) {
		t.Errorf("exit %d, stderr %q", c, errb.String())
	}
}
