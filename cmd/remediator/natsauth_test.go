package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker/embedded"
)

// TestNATSUserAuthentication: replay reaches a server that requires a user
// and password only with them, and the password never shows in output.
func TestNATSUserAuthentication(t *testing.T) {
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Username: "remediator", Password: "s3cret-nats-pass"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	replayWith := func(password string, extra ...string) (int, string) {
		t.Setenv("NATS_PASSWORD", password)
		var out, errb bytes.Buffer
		args := append([]string{"replay", "--nats-url", ns.ClientURL(), "../../testdata/events/01-huawei-cts-rotation-disabled.json"}, extra...)
		return run(context.Background(), args, &out, &errb), out.String() + errb.String()
	}
	if code, out := replayWith("s3cret-nats-pass"); code != 1 || !strings.Contains(strings.ToLower(out), "authorization") {
		t.Errorf("without a user: exit %d, %q", code, out)
	}
	if code, out := replayWith("wrong-pass", "--nats-user", "remediator"); code != 1 || strings.Contains(out, "wrong-pass") {
		t.Errorf("wrong password: exit %d, %q", code, out)
	}
	if code, out := replayWith("s3cret-nats-pass", "--nats-user", "remediator"); code != 0 || !strings.Contains(out, "published 1") {
		t.Errorf("right password: exit %d, %q", code, out)
	}
	if code, out := replayWith("x", "--nats-user", "u", "--nats-creds", "/nonexistent"); code != 1 || !strings.Contains(out, "give one of") {
		t.Errorf("two methods: exit %d, %q", code, out)
	}
}

// TestNATSInboxPrefix: --nats-inbox-prefix becomes the connection's inbox
// prefix; a prefix that is not a literal subject is refused naming the
// flag; every command with --nats-url has it; run also reads it from
// REMEDIATOR_NATS_INBOX_PREFIX and the config key nats_inbox_prefix.
func TestNATSInboxPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"_INBOX", true}, {"_INBOX_worker", true}, {"svc.remediator", true},
		{"", false}, {"_INBOX.>", false}, {"_INBOX.*", false}, {"a*b", false}, {"_INBOX.", false},
		{".x", false}, {"a..b", false}, {"_INBOX ops", false}, {"_INBOX\tops", false}, {"_INBOX\x7f", false},
	} {
		a := natsAuth{inboxPrefix: tc.prefix}
		opts, err := a.options()
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), "--nats-inbox-prefix") {
				t.Errorf("%q: err %v, want one naming --nats-inbox-prefix", tc.prefix, err)
			}
			continue
		}
		o := nats.GetDefaultOptions()
		for _, opt := range opts {
			if err := opt(&o); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil || o.InboxPrefix != tc.prefix {
			t.Errorf("%q: err %v, inbox prefix %q", tc.prefix, err, o.InboxPrefix)
		}
	}

	connecting := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		has := func(name string) bool {
			return c.LocalFlags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil
		}
		if has("nats-url") {
			connecting[c.CommandPath()] = true
			if !has("nats-inbox-prefix") {
				t.Errorf("%s has --nats-url but no --nats-inbox-prefix", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard))
	for _, name := range []string{"run", "ingest", "replay", "dlq list", "dlq show", "audit tail", "control pause", "control circuits"} {
		if !connecting["remediator "+name] {
			t.Errorf("remediator %s has no --nats-url", name)
		}
	}

	fs := newRunCmd(io.Discard).Flags()
	if f := fs.Lookup("nats-inbox-prefix"); f == nil || f.DefValue != "_INBOX" {
		t.Fatalf("run --nats-inbox-prefix: %+v, want default _INBOX", f)
	}
	t.Setenv("REMEDIATOR_NATS_INBOX_PREFIX", "_INBOX_worker")
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if v, _ := fs.GetString("nats-inbox-prefix"); v != "_INBOX_worker" {
		t.Errorf("REMEDIATOR_NATS_INBOX_PREFIX: run's prefix is %q", v)
	}
	fs = newRunCmd(io.Discard).Flags()
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("nats_inbox_prefix: _INBOX_w2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := applyConfigFile(fs, file); err != nil {
		t.Fatal(err)
	}
	if v, _ := fs.GetString("nats-inbox-prefix"); v != "_INBOX_w2" {
		t.Errorf("nats_inbox_prefix: run's prefix is %q", v)
	}
}
