package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// `remediator run` has no profiling flag, and the bench does not change
// it: --worker-cpuprofile builds a second binary of the same source with
// one file added through `go build -overlay`. That file starts a CPU
// profile when REMEDIATOR_BENCH_CPUPROFILE names a file and stops it on
// SIGUSR2, then writes FILE.done. The measured rounds run the product
// binary; only the extra profiled runs use this one.
const profileHook = `package main

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Added by remediator-bench --worker-cpuprofile (go build -overlay); not in
// the source tree.
func init() {
	path := os.Getenv("REMEDIATOR_BENCH_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGUSR2)
	go func() {
		<-stop
		pprof.StopCPUProfile()
		_ = f.Close()
		_ = os.WriteFile(path+".done", nil, 0o644)
	}()
}
`

// buildProfilingRemediator builds remediator with profileHook into dir.
func buildProfilingRemediator(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", "github.com/remediator/remediator/cmd/remediator").Output()
	if err != nil {
		return "", err
	}
	hook := filepath.Join(dir, "bench_cpuprofile.go")
	if err := os.WriteFile(hook, []byte(profileHook), 0o600); err != nil {
		return "", err
	}
	overlay, _ := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(strings.TrimSpace(string(out)), "zz_bench_cpuprofile.go"): hook}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "remediator-profiling")
	return bin, goBuild(ctx, "-overlay", ov, "-o", bin, "github.com/remediator/remediator/cmd/remediator")
}
