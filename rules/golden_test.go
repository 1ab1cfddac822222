package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .err files in testdata/rules/invalid")

// TestInvalidRuleGoldens loads each testdata/rules/invalid/<case>.yaml and
// compares the whole error text with <case>.err.
func TestInvalidRuleGoldens(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "testdata", "rules", "invalid")
	cases, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(cases) < 10 {
		t.Fatalf("golden cases: %v (%d)", err, len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(testCatalog, path)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LoadError", err)
			}
			got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
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
				t.Errorf("error text:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}
