package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIngestStalledBodiesAreBounded: 100 raw TCP clients send a signed-looking
// request (fresh timestamp, made-up v1) and stall 1 MB into a 1 MB body, and
// one authenticated client trickles a byte every 0.5 s. The ingest process's
// RSS stays under rssBound, every stalled connection and the trickle are
// closed by the server within the read timeout (plus slack), and a valid
// request is accepted during the attack.
func TestIngestStalledBodiesAreBounded(t *testing.T) {
	t.Parallel()
	const (
		conns       = 100
		readTimeout = 3 * time.Second
		slack       = 1500 * time.Millisecond
		stallAt     = 1_000_000
		bodyLen     = 1_040_000
		rssBound    = 80 << 20 // base ~30 MB + 32 slots x ~1 MB, with GC headroom
	)
	p := startIngestProc(t, "--read-timeout", readTimeout.String(), "--write-timeout", "6s", "--max-unauthenticated", "32")
	base := vmRSS(t, p.cmd.Process.Pid)

	var wg sync.WaitGroup
	closedAfter := make([]time.Duration, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closedAfter[i] = stallBody(t, p.addr, i, bodyLen, stallAt)
		}()
	}
	trickle := make(chan time.Duration, 1)
	go func() { trickle <- trickleBody(t, p.addr) }()

	peak := base
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	valid := make(chan string, 1)
	go func() { // a valid request in the middle of the attack
		time.Sleep(time.Second)
		h := binaryHeader("during-attack", "acs.ecs", "ecs:ActionTrail:ApiCall")
		h.Set("Authorization", "Bearer "+extToken)
		st, reason := p.post(t, h, `{"eventName":"x"}`)
		valid <- strconv.Itoa(st) + " " + reason
	}()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(50 * time.Millisecond):
			peak = max(peak, vmRSS(t, p.cmd.Process.Pid))
		}
	}
	if v := <-valid; v != "202 " {
		t.Errorf("a valid request during the attack: %s, want 202", v)
	}
	tr := <-trickle
	slowest := time.Duration(0)
	for _, d := range closedAfter {
		slowest = max(slowest, d)
	}
	t.Logf("RSS base %d MB, peak %d MB; slowest stalled connection closed after %s; trickle cut after %s",
		base>>20, peak>>20, slowest.Round(10*time.Millisecond), tr.Round(10*time.Millisecond))
	if raceBuild() {
		t.Log("race detector build: its shadow memory multiplies RSS, so the bound is not checked")
	} else if peak > rssBound {
		t.Errorf("RSS peaked at %d MB, over %d MB", peak>>20, rssBound>>20)
	}
	if slowest > readTimeout+slack {
		t.Errorf("a stalled connection stayed open %s, over the read timeout %s", slowest, readTimeout)
	}
	if tr > readTimeout+slack {
		t.Errorf("the trickling request stayed open %s, over the read timeout %s", tr, readTimeout)
	}
	counts := p.stop(t)
	t.Logf("counts %v", counts)
	if counts["rejected_read_timeout"] < 1 || counts["rejected_too_many_unauthenticated"] < 1 || counts["accepted"] != 1 {
		t.Errorf("counts %v: want read timeouts, refusals past --max-unauthenticated, and the one valid event", counts)
	}
}

// stallBody sends the headers of a signed request and stallAt bytes of its
// body, then waits for the server to answer or close; it returns how long
// after connecting that happened (the limit is 20 s).
func stallBody(t *testing.T, addr string, i, bodyLen, stallAt int) time.Duration {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(20 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nContent-Length: %d\r\n"+
		"X-Remediator-Signature: t=%d,v1=%064x\r\n\r\n", bodyLen, time.Now().Unix(), i)
	_, _ = c.Write(bytes.Repeat([]byte("x"), stallAt)) // fails once the server refused and closed
	_, _ = bufio.NewReader(c).ReadString(0)            // until the server closes
	return time.Since(start)
}

// trickleBody sends an authenticated request's body one byte every 0.5 s.
func trickleBody(t *testing.T, addr string) time.Duration {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(20 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\nCe-Id: trickle\r\nCe-Source: acs.ecs\r\nCe-Type: t\r\n"+
		"Content-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n", extToken)
	closed := make(chan struct{})
	go func() { _, _ = bufio.NewReader(c).ReadString(0); close(closed) }()
	for {
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(500 * time.Millisecond):
			_, _ = c.Write([]byte("x"))
		}
	}
}

// raceBuild reports whether this binary (and so the child) has the race
// detector.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
