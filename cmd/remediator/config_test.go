package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/c.yaml", "concurrency: 3\nmax_deliver: 4\ntrusted_source: [\"acs.*\", \"HC.*\"]\nack_wait: 10s\n")
	cases := []struct {
		args []string
		env  string
		want int
	}{
		{[]string{"--concurrency", "7"}, "5", 7}, // the flag wins
		{nil, "5", 5},                            // then the environment
		{nil, "", 3},                             // then the file
	}
	for _, tc := range cases {
		t.Setenv("REMEDIATOR_CONCURRENCY", tc.env) // restored after the test
		if tc.env == "" {
			os.Unsetenv("REMEDIATOR_CONCURRENCY")
		}
		cmd := newRunCmd(io.Discard)
		if err := cmd.Flags().Parse(append(tc.args, "--config", dir+"/c.yaml")); err != nil {
			t.Fatal(err)
		}
		if err := configure(cmd); err != nil {
			t.Fatal(err)
		}
		fs := cmd.Flags()
		c, _ := fs.GetInt("concurrency")
		md, _ := fs.GetInt("max-deliver")
		ts, _ := fs.GetStringSlice("trusted-source")
		aw, _ := fs.GetDuration("ack-wait")
		if c != tc.want || md != 4 || strings.Join(ts, "|") != "acs.*|HC.*" || aw.String() != "10s" {
			t.Errorf("args %v env %q: concurrency %d (want %d), max-deliver %d, trusted %v, ack-wait %s", tc.args, tc.env, c, tc.want, md, ts, aw)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir+"/ok.yaml", "nats_url: nats://127.0.0.1:4222\nconcurrency: 16\nrules: [rules/, policy.yaml]\nhttp: 127.0.0.1:9464\n")
	writeFile(t, dir+"/bad.yaml", "concurrency: many\nmax_delivr: 3\nack_wait: soon\nrules: {a: b}\n")
	var out, errb bytes.Buffer
	if c := run(context.Background(), []string{"config", "check", dir + "/ok.yaml"}, &out, &errb); c != 0 || out.String() != "ok\n" {
		t.Errorf("ok file: exit %d %q %q", c, out.String(), errb.String())
	}
	out.Reset()
	c := run(context.Background(), []string{"config", "check", dir + "/bad.yaml"}, &out, &errb)
	for _, want := range []string{"bad.yaml:1:14: concurrency:", "bad.yaml:2:1: max_delivr: unknown option", "bad.yaml:3:11: ack_wait:", "bad.yaml:4:8: rules: must be a scalar or a list"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if c != 1 {
		t.Errorf("exit %d", c)
	}
}
