package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

const reloadRule = `rules:
  - name: NAME
    match: {type: t}
    action: huawei.kms.enable_key_rotation
    params: {region: cn-north-4, project_id: 0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d, key_id: {expr: data.k}}
`

// TestRulesHotReload: a valid change is swapped in, an invalid one is
// rejected and logged while the previous set keeps running.
func TestRulesHotReload(t *testing.T) {
	t.Setenv("NATS_URL", "")
	dir := t.TempDir()
	writeFile(t, dir+"/r.yaml", strings.Replace(reloadRule, "NAME", "first", 1))
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"run", "--data-dir", t.TempDir(), "--embedded-listen", "", "--rules", dir, "--rules-poll", "50ms"}, &out, &errb)
	}()
	waitFor(t, "worker_started", func() bool { return strings.Contains(errb.String(), `"rules":1`) })
	writeFile(t, dir+"/r.yaml", strings.Replace(reloadRule, "NAME", "first", 1)+strings.Replace(reloadRule, "NAME", "second", 1)[len("rules:\n"):])
	waitFor(t, "the valid reload", func() bool {
		return strings.Contains(errb.String(), `"msg":"rules_reloaded","trigger":"file_change","rules":2`)
	})
	writeFile(t, dir+"/r.yaml", "rules:\n  - name: broken\n    match: {type: t}\n    action: nope\n")
	waitFor(t, "the rejected reload", func() bool { return strings.Contains(errb.String(), "rules_reload_failed") })
	if !strings.Contains(errb.String(), `r.yaml:4:13: rules[broken].action: unknown action \"nope\"`) {
		t.Errorf("the rejection does not name the problem:\n%s", errb.String())
	}
	writeFile(t, dir+"/r.yaml", strings.Replace(reloadRule, "NAME", "third", 1))
	waitFor(t, "the file reload", func() bool { return strings.Contains(errb.String(), `"trigger":"file_change","rules":1`) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil { // watchRules has claimed SIGHUP
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP reload", func() bool { return strings.Contains(errb.String(), `"trigger":"sighup","rules":1`) })
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d", c)
	}
}
