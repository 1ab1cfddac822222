package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
