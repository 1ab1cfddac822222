package main

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitWithin waits for a child started by startChild to exit within limit
// and returns its exit code.
func exitWithin(t *testing.T, cmd *exec.Cmd, logs *syncBuffer, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(limit):
		t.Fatalf("still running after %s\n%s", limit, logs.String())
	}
	return -1
}

// TestRunEmbeddedAddressTaken starts `run` on a client address another
// listener holds: it must exit at once (not after the server's 10 s wait)
// saying the address, the cause and what to do.
func TestRunEmbeddedAddressTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	start := time.Now()
	cmd, logs := startChild(t, "run", "--data-dir", t.TempDir(), "--embedded-listen", addr)
	if code := exitWithin(t, cmd, logs, 8*time.Second); code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, logs.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s to fail: the address error must come at once", took)
	}
	want := fmt.Sprintf("remediator: embedded nats: listen tcp %s: bind: address already in use; another run or nats-server holds it: stop it, or pass --embedded-listen ADDR (empty: in-process only)", addr)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, logs.String())
	}
}

// TestRunDataDirLocked starts two `run`s on one --data-dir: the second
// fails at once naming the directory and the first one's pid; once the
// first has exited, a third starts on the directory.
func TestRunDataDirLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, firstLogs := startChild(t, "run", "--data-dir", dir, "--embedded-listen", "")
	waitFor(t, "the first worker", func() bool { return strings.Contains(firstLogs.String(), `"worker_started"`) })

	second, logs := startChild(t, "run", "--data-dir", dir, "--embedded-listen", "")
	if code := exitWithin(t, second, logs, 8*time.Second); code != 1 {
		t.Errorf("second run: exit %d, want 1\n%s", code, logs.String())
	}
	want := fmt.Sprintf("remediator: data dir %s is in use by process %d (another remediator run; lock file %s/jetstream/remediator.lock): stop it, or pass another --data-dir",
		dir, first.Process.Pid, dir)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("second run's output lacks %q:\n%s", want, logs.String())
	}

	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitWithin(t, first, firstLogs, 20*time.Second); code != 0 {
		t.Fatalf("first run: exit %d after SIGTERM\n%s", code, firstLogs.String())
	}
	_, thirdLogs := startChild(t, "run", "--data-dir", dir, "--embedded-listen", "")
	waitFor(t, "a run on the released data dir", func() bool { return strings.Contains(thirdLogs.String(), `"worker_started"`) })
}
