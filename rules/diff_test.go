package rules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const diffRule = "  - name: NAME\n    match: {type: TYPE}\n    action: huawei.kms.enable_key_rotation\n" +
	"    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}\n"

func diffRules(pairs ...string) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString(strings.NewReplacer("NAME", pairs[i], "TYPE", pairs[i+1]).Replace(diffRule))
	}
	return b.String()
}

// TestEmptyFileBesideOthersIsRejected: an empty, blank or comments-only
// file in a rules directory is an error, not a file with no rules (which
// silently dropped its rules while the other files loaded).
func TestEmptyFileBesideOthersIsRejected(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{"empty": "", "blank": " \n\n   \n", "comments only": "# a\n  # b\n"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(diffRules("kept", "t")), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			set, err := Load(testCatalog, dir)
			var le *LoadError
			if !errors.As(err, &le) {
				n := -1
				if set != nil {
					n = len(set.Rules())
				}
				t.Fatalf("err = %v (a set of %d rules), want a *LoadError", err, n)
			}
			want := filepath.Join(dir, "b.yaml") + ":1:1: the file is empty"
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %q, want it to start %q", err, want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	load := func(src string) *Set {
		t.Helper()
		s, err := Parse(testCatalog, "f.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := load(diffRules("a", "t", "b", "t", "c", "t"))
	// b moves down and gains a comment (no change), c's type changes, a goes, d comes.
	next := load("# reordered\n" + diffRules("c", "u", "d", "t", "b", "t"))
	got := Diff(old, next)
	want := Changes{Added: []string{"d"}, Removed: []string{"a"}, Changed: []string{"c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %+v, want %+v", got, want)
	}
	if c := Diff(old, old); !c.Empty() {
		t.Errorf("a set against itself: %+v", c)
	}
	if c := Diff(nil, old); len(c.Added) != 3 {
		t.Errorf("from nothing: %+v", c)
	}
}
