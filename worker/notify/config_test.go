package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSinks(t *testing.T) {
	t.Parallel()
	sinks, err := Parse("sinks.yaml", []byte(`sinks:
  - name: ops-webhook
    type: webhook
    url_env: OPS_WEBHOOK_URL
    token_env: OPS_WEBHOOK_TOKEN
    outcomes: [dead_lettered, circuit_open, awaiting_approval]
    rules: [huawei-*]
    accounts: ["1234567890123456"]
  - name: chat
    type: slack
    url_file: /run/secrets/slack-url
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sinks) != 2 {
		t.Fatalf("%d sinks, want 2", len(sinks))
	}
	w := sinks[0]
	if w.Name != "ops-webhook" || w.Type != TypeWebhook || w.URLEnv != "OPS_WEBHOOK_URL" || w.TokenEnv != "OPS_WEBHOOK_TOKEN" ||
		len(w.Outcomes) != 3 || w.Outcomes[2] != "awaiting_approval" || w.Rules[0] != "huawei-*" || w.Accounts[0] != "1234567890123456" {
		t.Errorf("webhook sink = %+v", w)
	}
	if s := sinks[1]; s.Name != "chat" || s.Type != TypeSlack || s.URLFile != "/run/secrets/slack-url" || s.Outcomes != nil {
		t.Errorf("slack sink = %+v", s)
	}
}

// TestParseSinksErrors: every problem is reported at once, each with
// file:line:column and the sink's name.
func TestParseSinksErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "sinks:\n  - name: a\n    type: webhook\n    url_env: A\n    urll: x\n",
			[]string{"sinks.yaml:5:5: sinks[a]: unknown key urll (known: accounts, deliver, name, outcomes, rules, token_env, token_file, type, url_env, url_file)"}},
		{"top key", "sink:\n  - name: a\n", []string{"sinks.yaml:1:1: unknown key sink (the file has one key: sinks)"}},
		{"every problem", "sinks:\n  - name: a\n    type: email\n    outcomes: [remediated, fixed]\n  - name: a\n    type: slack\n    url_env: A\n    url_file: /f\n    token_env: T\n",
			[]string{
				`sinks.yaml:2:5: sinks[a]: outcomes: unknown outcome "fixed"`,
				`sinks.yaml:2:3: sinks[a]: type "email": want webhook or slack`,
				"sinks.yaml:2:3: sinks[a]: give url_env or url_file (exactly one)",
				`sinks.yaml:5:3: sinks[a]: name "a" is used twice`,
				"sinks.yaml:5:3: sinks[a]: give url_env or url_file (exactly one)",
				"sinks.yaml:5:3: sinks[a]: a slack sink takes no token",
			}},
		{"bad name", "sinks:\n  - name: a b\n    type: slack\n    url_env: A\n", []string{`sinks.yaml:2:3: sinks[a b]: name "a b": use 1 to 64 letters`}},
		{"no name", "sinks:\n  - type: slack\n    url_env: A\n", []string{"sinks.yaml:2:3: sinks[?]: name is required"}},
		{"not a list", "sinks:\n  name: a\n", []string{"sinks.yaml:2:3: sinks must be a list"}},
		{"empty", "", []string{"sinks.yaml: no sinks"}},
		{"outcomes scalar", "sinks:\n  - name: a\n    type: slack\n    url_env: A\n    outcomes: remediated\n", []string{"sinks.yaml:5:15: sinks[a]: outcomes must be a list"}},
		{"deliver", "sinks:\n  - name: a\n    type: slack\n    url_env: A\n    deliver: oldest\n", []string{`sinks.yaml:2:3: sinks[a]: deliver "oldest": want new (default) or all`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("sinks.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tc.want); got != want {
				t.Errorf("%d problems reported, want %d:\n%v", got, want, err)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("err = %v, want one naming the file", err)
	}
}

// TestResolveSecrets: URLs and tokens come from the environment or files;
// errors name the sink and where, never a value.
func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "url")
	if err := os.WriteFile(file, []byte("https://hooks.example/T000/SECRET-IN-FILE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_TEST_TOKEN", "tok-SECRET")
	t.Setenv("NOTIFY_TEST_BADURL", "ftp://SECRET-HOST/x")
	sec, err := SinkConfig{Name: "a", URLFile: file, TokenEnv: "NOTIFY_TEST_TOKEN"}.resolve()
	if err != nil || sec.url != "https://hooks.example/T000/SECRET-IN-FILE" || sec.token != "tok-SECRET" {
		t.Fatalf("resolve = %+v, %v", sec, err)
	}
	_, err = SinkConfig{Name: "b", URLEnv: "NOTIFY_TEST_BADURL"}.resolve()
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "sink b") || !strings.Contains(err.Error(), "NOTIFY_TEST_BADURL") {
		t.Errorf("bad URL error = %v: want the sink and the variable, not the value", err)
	}
	_, err = New([]SinkConfig{{Name: "c", URLEnv: "NOTIFY_TEST_UNSET"}, {Name: "d", URLFile: filepath.Join(dir, "none")}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "sink c: url: environment variable NOTIFY_TEST_UNSET is empty") || !strings.Contains(err.Error(), "sink d: url: read ") {
		t.Errorf("New error = %v, want both sinks named", err)
	}
}
