package rules

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRuleFileTooLarge: a file over the limit (generated: 5 MiB is too
// much to commit) is refused before it is read, with the golden
// testdata/rules/invalid/file_too_large.err.
func TestRuleFileTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "file_too_large.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5 << 20); err != nil { // sparse: no 5 MiB written
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(testCatalog, path)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
	golden := filepath.Join("..", "testdata", "rules", "invalid", "file_too_large.err")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("error text:\n%s\nwant:\n%s", got, want)
	}
}

// TestRuleLimitsConfigurable: smaller limits refuse what the defaults
// accept, and a limit of 0 is none.
func TestRuleLimitsConfigurable(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "testdata", "rules", "demo")
	if _, err := (Limits{FileBytes: 100}).LoadWithBuiltin(testCatalog, dir); err == nil || !strings.Contains(err.Error(), "the limit is 100 (--max-rule-file-bytes)") {
		t.Errorf("FileBytes 100: err = %v", err)
	}
	if _, err := (Limits{Rules: 1}).LoadWithBuiltin(testCatalog, dir); err == nil || !strings.Contains(err.Error(), "rules, the limit is 1 (--max-rules)") {
		t.Errorf("Rules 1: err = %v", err)
	}
	if _, err := (Limits{}).LoadWithBuiltin(testCatalog, dir); err != nil {
		t.Errorf("no limits: %v", err)
	}
}

// TestRuleFileSizeCheckedBeforeReading: a rule file over the limit is
// refused from its size alone; a 50 MB file is not read. Not parallel:
// it measures the bytes the process allocates while it loads.
func TestRuleFileSizeCheckedBeforeReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(testCatalog, path)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("err = %v, want the size limit", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("loading a 50 MB file over the limit allocated %d bytes: it was read", n)
	}
}
