package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{start, strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// goModVersion is the Go release go.mod asks for: its toolchain line, else
// its go line.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var goLine, toolchain string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "go" {
			goLine = f[1]
		}
		if len(f) == 2 && f[0] == "toolchain" {
			toolchain = strings.TrimPrefix(f[1], "go")
		}
	}
	if toolchain != "" {
		return toolchain
	}
	if strings.Count(goLine, ".") < 2 {
		t.Fatalf("go.mod: go %s names no patch release for the builder image to pin", goLine)
	}
	return goLine
}

// TestDockerfile checks the Dockerfile statically (no docker here): the
// builder is the Go release go.mod names, the toolchain is local, the OCI
// labels and EXPOSE are there, the state directory belongs to the user the
// manifests run as and is the volume XDG_STATE_HOME implies.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	by := map[string][]instruction{}
	for _, in := range ins {
		by[in.cmd] = append(by[in.cmd], in)
	}
	if len(by["FROM"]) != 2 {
		t.Fatalf("%d FROM lines, want a builder and the runtime image", len(by["FROM"]))
	}
	want := goModVersion(t)
	image, _, _ := strings.Cut(by["FROM"][0].args, " ")
	if image != "golang:"+want && !regexp.MustCompile(`^golang:`+regexp.QuoteMeta(want)+`-[a-z0-9]+$`).MatchString(image) {
		t.Errorf("Dockerfile:%d: builder %s, want golang:%s or golang:%s-<debian release> (go.mod)", by["FROM"][0].line, image, want, want)
	}
	env := envOf(by["ENV"])
	if env["GOTOOLCHAIN"] != "local" {
		t.Errorf("Dockerfile: GOTOOLCHAIN=%q, want local (never download another toolchain)", env["GOTOOLCHAIN"])
	}
	labels := map[string]string{}
	for _, in := range by["LABEL"] {
		for _, m := range regexp.MustCompile(`([a-z.]+)="([^"]*)"`).FindAllStringSubmatch(in.args, -1) {
			labels[m[1]] = m[2]
		}
	}
	for k, v := range map[string]string{"title": "remediator", "source": "https://github.com/remediator/remediator",
		"version": "${VERSION}", "revision": "${REVISION}", "created": "${BUILD_DATE}"} {
		if labels["org.opencontainers.image."+k] != v {
			t.Errorf("Dockerfile: label org.opencontainers.image.%s = %q, want %q", k, labels["org.opencontainers.image."+k], v)
		}
	}
	for _, k := range []string{"description", "licenses"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("Dockerfile: no label org.opencontainers.image.%s", k)
		}
	}
	exposed := map[string]bool{}
	for _, in := range by["EXPOSE"] {
		for _, p := range strings.Fields(in.args) {
			exposed[strings.TrimSuffix(p, "/tcp")] = true
		}
	}
	for _, p := range containerPorts(t) {
		if !exposed[p] {
			t.Errorf("Dockerfile: port %s of the Deployment is not EXPOSEd", p)
		}
	}
	state := path.Join(env["XDG_STATE_HOME"], "remediator")
	if env["XDG_STATE_HOME"] == "" || len(by["VOLUME"]) != 1 || strings.Trim(by["VOLUME"][0].args, `[]"`) != state {
		t.Errorf("Dockerfile: VOLUME %v, want one at %s ($XDG_STATE_HOME/remediator)", by["VOLUME"], state)
	}
	owned := false
	for _, in := range by["COPY"] {
		f := strings.Fields(in.args)
		owned = owned || (slicesContains(f, "--chown=65532:65532") && f[len(f)-1] == state)
	}
	if !owned {
		t.Errorf("Dockerfile: no COPY --chown=65532:65532 ... %s: the nonroot user could not create its state directory", state)
	}
	if len(by["USER"]) == 0 || by["USER"][len(by["USER"])-1].args != "65532:65532" {
		t.Errorf("Dockerfile: USER %v, want 65532:65532 (the Deployment's runAsUser)", by["USER"])
	}
	// The -X flags name variables the version command reads: the binary
	// built with them (as the Dockerfile does) reports the values.
	v := runVersion(t, dockerBinary(t))
	if v.Version != testArgs["VERSION"] || v.Revision != testArgs["REVISION"] || v.Date != testArgs["BUILD_DATE"] {
		t.Errorf("built with the Dockerfile's -ldflags and %v, version reports %+v", testArgs, v)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func envOf(ins []instruction) map[string]string {
	env := map[string]string{}
	for _, in := range ins {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// containerPorts are the container ports of the base's Deployment.
func containerPorts(t *testing.T) []string {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("kubernetes", "base"))
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, r := range res.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		m, _ := r.Map()
		b, _ := json.Marshal(m)
		for _, p := range regexp.MustCompile(`"containerPort":(\d+)`).FindAllStringSubmatch(string(b), -1) {
			ports = append(ports, p[1])
		}
	}
	if len(ports) == 0 {
		t.Fatal("the base Deployment has no container port")
	}
	return ports
}

// testArgs are the build arguments the Dockerfile test builds with.
var testArgs = map[string]string{"VERSION": "v0.0.0-dockerfile-test", "REVISION": "feedfacefeedfacefeedfacefeedfacefeedface", "BUILD_DATE": "2031-02-03T04:05:06Z"}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// dockerBinary builds ./cmd/remediator with the -ldflags of the
// Dockerfile's go build line, ${VAR} replaced by testArgs, once per test
// binary (TestMain removes it).
func dockerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var ldflags string
		for _, in := range readDockerfile(t) {
			if m := regexp.MustCompile(`-ldflags="([^"]*)"`).FindStringSubmatch(in.args); in.cmd == "RUN" && m != nil {
				ldflags = m[1]
			}
		}
		if !strings.Contains(ldflags, "-X ") {
			buildErr = fmt.Errorf("Dockerfile: no RUN go build -ldflags=\"... -X ...\"")
			return
		}
		ldflags = os.Expand(ldflags, func(k string) string { return testArgs[k] })
		builtBin = filepath.Join(buildDir, "remediator")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-ldflags="+ldflags, "-o", builtBin, "./cmd/remediator")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -ldflags=%q: %v\n%s", ldflags, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Date     string `json:"date"`
}

func runVersion(t *testing.T, bin string) versionInfo {
	t.Helper()
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%s version -o json: %v", bin, err)
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	return v
}

// TestDockerignore: the build context leaves out .git, built binaries and
// editor files, and keeps every file the build of ./cmd/remediator reads
// (go.mod, go.sum, the main module's Go files and embedded files, as
// `go list -deps` reports them).
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ig := parseDockerignore(string(b))
	for _, p := range []string{".git", ".git/HEAD", "remediator", "cmd/remediator/remediator", "remediator-bench",
		"worker/worker.test", "cpu.prof", "rules/.idea/x", "README.md.swp", ".DS_Store"} {
		if !ig.excludes(p) {
			t.Errorf(".dockerignore keeps %s in the build context", p)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,CgoFiles,EmbedFiles,Module", "./cmd/remediator")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	needed := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                           string
			GoFiles, CgoFiles, EmbedFiles []string
			Module                        *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, _ := filepath.Rel(root, p.Dir)
		for _, f := range append(append(p.GoFiles, p.CgoFiles...), p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 50 {
		t.Fatalf("go list found only %d files of the build", len(needed))
	}
	for _, f := range needed {
		if ig.excludes(f) {
			t.Errorf(".dockerignore excludes %s, which the build of ./cmd/remediator reads", f)
		}
	}
}

// dockerignore matches paths as Docker does for the patterns this
// repository uses: each pattern relative to the context root (a leading /
// ignored), * and ? within one path element, ** across elements, a pattern
// matching a directory excludes what it holds, ! re-includes, the last
// matching pattern wins.
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(s string) dockerignore {
	var ig dockerignore
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		neg := strings.HasPrefix(l, "!")
		l = strings.TrimPrefix(strings.TrimPrefix(l, "!"), "/")
		var re strings.Builder
		for i := 0; i < len(l); i++ {
			switch {
			case strings.HasPrefix(l[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(l[i:], "**"):
				re.WriteString(".*")
				i++
			case l[i] == '*':
				re.WriteString("[^/]*")
			case l[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(l[i : i+1]))
			}
		}
		ig = append(ig, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile("^" + re.String() + "(/.*)?$"), neg})
	}
	return ig
}

func (ig dockerignore) excludes(p string) bool {
	excluded := false
	for _, pat := range ig {
		if pat.re.MatchString(p) {
			excluded = !pat.negate
		}
	}
	return excluded
}
