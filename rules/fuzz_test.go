package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: the loader never panics, and every failure is a *LoadError
// or a plain error with a message. Run: go test ./rules -fuzz FuzzParse
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../testdata/rules/invalid/*.yaml", "../testdata/rules/demo/*.yaml", "builtin/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(policyRules))
	f.Fuzz(func(t *testing.T, src []byte) {
		var set *Set
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			set, err = Parse(testCatalog, "fuzz.yaml", src)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Parse did not return within 5s for %q", src)
		}
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) && len(le.Problems) == 0 {
				t.Fatal("a LoadError with no problems")
			}
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if set == nil || len(set.Rules()) == 0 && len(set.byType) != 0 {
			t.Fatal("inconsistent set")
		}
	})
}
