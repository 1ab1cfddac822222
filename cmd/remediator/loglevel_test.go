package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runLogs runs `remediator run` (embedded server, in-process only) as its
// own process with env added, until it is ready, and returns its log.
func runLogs(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ops := freeAddr(t)
	cmd := exec.Command(os.Args[0], append([]string{"run", "--data-dir", t.TempDir(), "--embedded-listen", "", "--http", ops}, args...)...)
	cmd.Env = append(append(os.Environ(), "REMEDIATOR_TEST_MAIN=1", "HUAWEICLOUD_SDK_AK=", "HUAWEICLOUD_SDK_SK="), env...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "/readyz", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitWithin(t, cmd, &logs, 20*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, logs.String())
	}
	return logs.String()
}

// TestRunLogLevel checks that debug lines (the embedded server's log, the
// connections' clean close) are written at debug, from the flag, the
// environment or the config file, and not at the default, info.
func TestRunLogLevel(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "log_level: debug\n")
	for _, tc := range []struct {
		name      string
		env, args []string
		debug     bool
	}{
		{name: "default"},
		{name: "flag", args: []string{"--log-level", "debug"}, debug: true},
		{name: "env", env: []string{"REMEDIATOR_LOG_LEVEL=debug"}, debug: true},
		{name: "config", args: []string{"--config", cfg}, debug: true},
		{name: "flag over env", env: []string{"REMEDIATOR_LOG_LEVEL=debug"}, args: []string{"--log-level", "info"}},
		{name: "warn", args: []string{"--log-level", "warn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := runLogs(t, tc.env, tc.args...)
			debug := strings.Contains(logs, `"level":"debug"`) && strings.Contains(logs, `"msg":"nats_server_log"`)
			if debug != tc.debug {
				t.Errorf("debug lines written: %v, want %v\n%s", debug, tc.debug, logs)
			}
			if info := strings.Contains(logs, `"level":"info"`); info == (tc.name == "warn") {
				t.Errorf("info lines written: %v at %s\n%s", info, tc.name, logs)
			}
		})
	}
}

// TestLogLevelRefused checks a bad level is refused where it was given.
func TestLogLevelRefused(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, "log_level: loud\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--log-level", "verbose"}, `invalid argument "verbose" for "--log-level" flag: log level "verbose": want debug, info, warn or error`},
		{[]string{"run", "--config", cfg}, cfg + `:1:12: log_level: invalid argument "loud" for "--log-level" flag: log level "loud": want debug, info, warn or error`},
		{[]string{"demo", "--log-level", "fatal"}, `invalid argument "fatal" for "--log-level" flag: log level "fatal": want debug, info, warn or error`},
		{[]string{"ingest", "--log-level", "trace"}, `invalid argument "trace" for "--log-level" flag: log level "trace": want debug, info, warn or error`},
		{[]string{"notify", "--log-level", "all"}, `invalid argument "all" for "--log-level" flag: log level "all": want debug, info, warn or error`},
	} {
		var out, errb syncBuffer
		args := tc.args
		if args[0] == "run" || args[0] == "demo" {
			args = append(args, "--data-dir", t.TempDir())
		}
		if c := run(context.Background(), args, &out, &errb); c != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, c, errb.String(), tc.want)
		}
	}
}
