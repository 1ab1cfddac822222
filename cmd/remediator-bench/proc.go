package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Reading another process's usage from /proc (Linux).

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user and system) process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count the fields after its closing one. utime and stime are fields
	// 14 and 15, so the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// procSyscalls is how many read and write system calls (syscr, syscw in
// /proc/<pid>/io) process pid has made so far: socket reads and writes
// included, so per event they count the round trips that were not
// coalesced into one another.
func procSyscalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/io: %s: %w", pid, name, err)
		}
		switch name {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes, nil
}

// syscallsOf sums procSyscalls over pids (a process it cannot read counts
// nothing).
func syscallsOf(pids []int) (reads, writes int64) {
	for _, pid := range pids {
		r, w, _ := procSyscalls(pid)
		reads, writes = reads+r, writes+w
	}
	return reads, writes
}

// vmHWM is the peak resident set size in /proc/<who>/status ("self" or a
// pid), as the kernel prints it ("12345 kB"), or "unknown".
func vmHWM(who string) string {
	b, err := os.ReadFile("/proc/" + who + "/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// goBuild runs `go build` with args from the current directory (the bench
// runs from within the module, so a package is named by import path at the
// version go.mod requires).
func goBuild(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run the bench from within the module): %w: %s", args[len(args)-1], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
