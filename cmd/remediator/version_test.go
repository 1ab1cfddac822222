package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionFromVCS builds the binary from a git repository holding a
// copy of this module and checks that `version` reports its commit, the
// commit's time and whether the tree was modified, as Go stamps them.
func TestVersionFromVCS(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	copyModule(t, abs(t, "../.."), repo)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "test")
	head := git("rev-parse", "HEAD")

	v := versionOf(t, buildIn(t, repo, "-buildvcs=true"))
	if v.Revision != head || v.Modified == nil || *v.Modified || v.Date != "2026-01-02T03:04:05Z" {
		t.Errorf("clean tree: revision %q modified %v date %q, want %s false 2026-01-02T03:04:05Z", v.Revision, v.Modified, v.Date, head)
	}
	if !strings.HasSuffix(v.Version, "-20260102030405-"+head[:12]) {
		t.Errorf("version %q, want the pseudo-version of %s", v.Version, head[:12])
	}
	checkPlatform(t, v)

	writeFile(t, filepath.Join(repo, "uncommitted.txt"), "x")
	v = versionOf(t, buildIn(t, repo, "-buildvcs=true"))
	if v.Revision != head || v.Modified == nil || !*v.Modified {
		t.Errorf("modified tree: revision %q modified %v, want %s true", v.Revision, v.Modified, head)
	}
}

// TestVersionLinkerOverrides: -ldflags -X main.version, main.revision and
// main.buildDate (what the Dockerfile passes) show in `version`, in
// `version -o json` and in `--version`.
func TestVersionLinkerOverrides(t *testing.T) {
	t.Parallel()
	rev := "0123456789abcdef0123456789abcdef01234567"
	bin := buildIn(t, abs(t, "../.."), "-buildvcs=false",
		"-ldflags=-X main.version=v9.8.7 -X main.revision="+rev+" -X main.buildDate=2030-04-05T06:07:08Z")
	v := versionOf(t, bin)
	if v.Version != "v9.8.7" || v.Revision != rev || v.Date != "2030-04-05T06:07:08Z" || v.Modified != nil {
		t.Errorf("got %+v, want the -X values and modified unknown", v)
	}
	checkPlatform(t, v)
	out, err := exec.Command(bin, "--version").Output()
	if want := "remediator v9.8.7 (0123456789ab, 2030-04-05T06:07:08Z) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"; err != nil || string(out) != want {
		t.Errorf("--version: %q %v, want %q", out, err, want)
	}
	out, err = exec.Command(bin, "version").Output()
	for _, want := range []string{"version:   v9.8.7\n", "revision:  " + rev + "\n", "modified:  unknown\n", "date:      2030-04-05T06:07:08Z\n"} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("version: %q %v, want a line %q", out, err, want)
		}
	}
	if out, err := exec.Command(bin, "version", "-o", "yaml").CombinedOutput(); err == nil || !strings.Contains(string(out), "-o yaml: unknown output format; this command writes text, json") {
		t.Errorf("-o yaml: %q %v", out, err)
	}
}

func checkPlatform(t *testing.T, v versionInfo) {
	t.Helper()
	if v.GoVersion != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH {
		t.Errorf("go %q %s/%s, want %s %s/%s", v.GoVersion, v.OS, v.Arch, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
}

// buildIn builds ./cmd/remediator of the module in dir into a temporary
// directory.
func buildIn(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "remediator")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "./cmd/remediator")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, out)
	}
	return bin
}

func versionOf(t *testing.T, bin string) versionInfo {
	t.Helper()
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("version -o json: %v", err)
	}
	var v versionInfo
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	return v
}

// copyModule copies the module's files (not .git, nor anything over 4 MB,
// such as a built binary) from src to dst.
func copyModule(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
