package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// The external topology: nats-server and `remediator run` as processes
// of their own, talking over loopback TCP, as users run them.

// natsServer is a nats-server process with JetStream on a fresh store
// (file storage, the default sync) on a random loopback port.
type natsServer struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	logs *capped
}

func startNATSServer(ctx context.Context, bin string) (*natsServer, error) {
	return startNATSNode(ctx, bin, "remediator-bench", "")
}

// startNATSNode starts a nats-server named name with extra appended to
// its configuration (a cluster block).
func startNATSNode(ctx context.Context, bin, name, extra string) (*natsServer, error) {
	dir, err := os.MkdirTemp("", "remediator-bench-nats-")
	if err != nil {
		return nil, err
	}
	// port -1: a random port, written to the ports file once listening.
	conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\nserver_name: %s\nports_file_dir: %q\njetstream {\n  store_dir: %q\n}\n%s",
		name, dir, filepath.Join(dir, "js"), extra)
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &natsServer{cmd: exec.Command(bin, "-c", path), dir: dir, logs: &capped{}}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitUp(ctx, 20*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("nats-server: %w\n%s", err, s.logs)
	}
	return s, nil
}

// waitUp reads the client URL from the ports file and connects once.
func (s *natsServer) waitUp(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if s.url == "" {
			s.url = s.portsFileURL()
		}
		if s.url != "" {
			nc, err := nats.Connect(s.url, nats.Timeout(time.Second))
			if err == nil {
				nc.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("not answering")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *natsServer) portsFileURL() string {
	if p := s.ports(); len(p.Nats) > 0 {
		return p.Nats[0]
	}
	return ""
}

// profAddr is the host:port of the server's profiling port, if it has one.
func (s *natsServer) profAddr() string {
	if p := s.ports(); len(p.Profile) > 0 {
		return strings.TrimPrefix(p.Profile[0], "http://")
	}
	return ""
}

// ports reads the server's ports file (empty until it is listening).
func (s *natsServer) ports() (p struct{ Nats, Profile []string }) {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*.ports"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if json.Unmarshal(b, &p) == nil && len(p.Nats) > 0 {
			return p
		}
	}
	return p
}

func (s *natsServer) pid() int { return s.cmd.Process.Pid }

// stop ends the server with SIGTERM (SIGKILL after 10 s) and removes its store.
func (s *natsServer) stop() {
	_ = stopProcess(s.cmd, 10*time.Second)
	_ = os.RemoveAll(s.dir)
}

// stopProcess sends SIGTERM and waits, killing the process past limit; the
// error is the process's exit status.
func stopProcess(cmd *exec.Cmd, limit time.Duration) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running %s after SIGTERM: killed", limit)
	}
}

// workerProc is `remediator run` as a child process. Its log (JSON, info
// level: a decision line per event) goes to a pipe that a goroutine reads
// and discards, as a log collector would read it, after finding the ops
// server's address in it.
type workerProc struct {
	cmd    *exec.Cmd
	ops    chan string // the ops server's address, once logged
	addr   string      // the ops server's address, once waitReady saw it
	out    *capped     // the start of the log, for errors
	read   chan struct{}
	logged int64 // bytes of log read, valid once read is closed

	stopped sync.Once
	stopErr error
}

func startWorkerProc(bin string, env []string, args ...string) (*workerProc, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	w := &workerProc{cmd: exec.Command(bin, args...), ops: make(chan string, 1), out: &capped{}, read: make(chan struct{})}
	w.cmd.Env = env
	w.cmd.Stdout, w.cmd.Stderr = pw, pw
	err = w.cmd.Start()
	_ = pw.Close()
	if err != nil {
		_ = pr.Close()
		return nil, err
	}
	go w.readLog(pr)
	return w, nil
}

func (w *workerProc) readLog(pr *os.File) {
	defer close(w.read)
	defer pr.Close()
	r := bufio.NewReaderSize(pr, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		w.logged += int64(len(line))
		_, _ = w.out.Write(line)
		if bytes.Contains(line, []byte(`"msg":"ops_listening"`)) {
			var l struct{ Addr string }
			_ = json.Unmarshal(line, &l)
			w.ops <- l.Addr
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
	n, _ := io.Copy(io.Discard, r)
	w.logged += n
}

func (w *workerProc) pid() int { return w.cmd.Process.Pid }

// waitReady waits until /readyz answers 200.
func (w *workerProc) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.After(limit)
	var addr string
	select {
	case addr = <-w.ops:
		w.addr = addr
	case <-w.read:
		return fmt.Errorf("remediator run exited before serving /readyz:\n%s", w.out)
	case <-deadline:
		return fmt.Errorf("remediator run logged no ops address:\n%s", w.out)
	}
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("remediator run not ready after %s:\n%s", limit, w.out)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stop ends the worker with SIGTERM; an exit other than 0 is an error.
func (w *workerProc) stop() error {
	err := stopProcess(w.cmd, 15*time.Second)
	<-w.read
	if err != nil {
		return fmt.Errorf("remediator run: %w:\n%s", err, w.out)
	}
	return nil
}

// stopOnce stops the worker the first time it is called and returns that
// stop's error every time.
func (w *workerProc) stopOnce() error {
	w.stopped.Do(func() { w.stopErr = w.stop() })
	return w.stopErr
}

// workerEnv is this process's environment without what would point the
// worker elsewhere than the bench's server and simulator: its own
// REMEDIATOR_* settings, NATS_URL, cloud credentials (it uses the
// simulator's demo credentials when none are given).
func workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "REMEDIATOR_"), strings.HasPrefix(kv, "NATS_"),
			strings.HasPrefix(kv, "HUAWEICLOUD_"), strings.HasPrefix(kv, "ALIBABA_CLOUD_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// capped keeps the first 32 KiB written to it (for error messages) and
// drops the rest; it is safe for concurrent use.
type capped struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 32<<10 - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// cpuProfile fetches a CPU profile of the next d from the worker's
// /debug/pprof/profile (it runs with --pprof) into path.
func (w *workerProc) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	return fetchCPUProfile(ctx, w.addr, d, path)
}

// cpuProfile fetches a CPU profile of the next d from the server's
// profiling port (started with prof_port) into path.
func (s *natsServer) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	addr := s.profAddr()
	if addr == "" {
		return errors.New("nats-server has no profiling port")
	}
	return fetchCPUProfile(ctx, addr, d, path)
}

// fetchCPUProfile fetches http://addr/debug/pprof/profile for d (whole
// seconds, at least one) into path.
func fetchCPUProfile(ctx context.Context, addr string, d time.Duration, path string) error {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	return fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), path)
}

// fetchProfile fetches a profile from a /debug/pprof URL into path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
