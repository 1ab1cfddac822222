package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/remediator/remediator/worker/cloudsim"
)

// The outside-in tests run the real nats-server as a process of its own,
// built from the nats-server module this project depends on, and talk to
// it over TCP, as users run it. The binary is built once per test binary.

var natsBinary struct {
	once sync.Once
	path string
	err  error
}

// natsServerBinary builds cmd nats-server (github.com/nats-io/nats-server/v2)
// into a temporary directory, once.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	natsBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "remediator-nats-server-")
		if err != nil {
			natsBinary.err = err
			return
		}
		natsBinary.path = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBinary.path, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBinary.err = fmt.Errorf("go build nats-server: %v: %s", err, out)
		}
	})
	if natsBinary.err != nil {
		t.Fatal(natsBinary.err)
	}
	return natsBinary.path
}

// natsProc is a nats-server running as its own process.
type natsProc struct {
	t     *testing.T
	bin   string
	conf  string
	Addr  string // 127.0.0.1:port
	cmd   *exec.Cmd
	logs  *syncBuffer
	copts []nats.Option
}

// natsProcOptions configure startNATSProcess.
type natsProcOptions struct {
	// MaxPayload is the server's max_payload in bytes (0: the default, 1 MiB).
	MaxPayload int
	// Extra is appended to the configuration file as it is.
	Extra string
	// ClientOptions are added to the connections the helper opens (the
	// start-up probe, Connect): credentials when Extra configures users.
	ClientOptions []nats.Option
	// DefaultSync keeps the server's default fsync (every two minutes, as
	// `nats bench` and an untuned server run) instead of sync_interval:
	// always, for measurements comparable with those.
	DefaultSync bool
}

// startNATSProcess starts nats-server with JetStream (sync always) on a
// free loopback port and a fresh store, and waits until it answers.
func startNATSProcess(t *testing.T, o natsProcOptions) *natsProc {
	t.Helper()
	p := &natsProc{t: t, bin: natsServerBinary(t), Addr: freeAddr(t), copts: o.ClientOptions}
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(p.Addr)
	var b strings.Builder
	fmt.Fprintf(&b, "host: %s\nport: %s\nserver_name: remediator-test\n", host, port)
	sync := "\n  sync_interval: always"
	if o.DefaultSync {
		sync = ""
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q%s\n}\n", filepath.Join(dir, "js"), sync)
	if o.MaxPayload > 0 {
		fmt.Fprintf(&b, "max_payload: %d\n", o.MaxPayload)
	}
	b.WriteString(o.Extra)
	p.conf = filepath.Join(dir, "nats.conf")
	writeFile(t, p.conf, b.String())
	p.start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the client URL.
func (p *natsProc) URL() string { return "nats://" + p.Addr }

func (p *natsProc) start() {
	p.t.Helper()
	var err error
	for range 50 { // the port may linger briefly after a stop
		p.logs = &syncBuffer{}
		p.cmd = exec.Command(p.bin, "-c", p.conf)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err = p.cmd.Start(); err != nil {
			p.t.Fatal(err)
		}
		if err = p.waitUp(10 * time.Second); err == nil {
			return
		}
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("nats-server did not start: %v\n%s", err, p.logs.String())
}

func (p *natsProc) waitUp(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		nc, err := nats.Connect(p.URL(), append([]nats.Option{nats.Timeout(time.Second)}, p.copts...)...)
		if err == nil {
			nc.Close()
			return nil
		}
		if time.Now().After(deadline) || p.cmd.ProcessState != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server with SIGTERM (a clean shutdown).
func (p *natsProc) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// Kill ends the server with SIGKILL (a crash).
func (p *natsProc) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Restart stops the server and starts it again on the same port and store.
func (p *natsProc) Restart() {
	p.t.Helper()
	p.Stop()
	p.start()
}

// Connect opens a client connection.
func (p *natsProc) Connect() (*nats.Conn, error) { return nats.Connect(p.URL(), p.copts...) }

// startSim serves the simulator on a free loopback port until the test ends.
func startSim(t *testing.T, sim *cloudsim.Simulator) *cloudsim.Server {
	t.Helper()
	srv, err := cloudsim.Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv
}

// tcpProxy forwards loopback TCP connections to a target and can cut
// every connection and refuse new ones, to put a network fault between a
// worker and NATS while the rest (the cloud) stays reachable.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
	stall  *sync.Cond // while stalled, bytes are held, connections stay open
	halted bool
	wg     sync.WaitGroup
}

// startProxy listens on a free loopback port and forwards to target.
func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	p.stall = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address (host:port).
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.halted {
				p.stall.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Stall holds every byte in both directions, keeping the connections open
// (a network partition as TCP sees it), until Heal.
func (p *tcpProxy) Stall() {
	p.mu.Lock()
	p.halted = true
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones until Heal.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Heal accepts connections and forwards bytes again.
func (p *tcpProxy) Heal() {
	p.mu.Lock()
	p.cut, p.halted = false, false
	p.stall.Broadcast()
	p.mu.Unlock()
}

// Close stops the proxy and closes its connections.
func (p *tcpProxy) Close() {
	_ = p.ln.Close()
	p.Cut()
	p.Heal()
	p.wg.Wait()
}

// TestNATSProcessAndProxy checks the outside-in helpers themselves: a
// client through the proxy reaches the server process, a stall holds its
// messages, and a cut closes its connection.
func TestNATSProcessAndProxy(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	px := startProxy(t, ns.Addr)
	nc, err := nats.Connect("nats://"+px.Addr(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	direct, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	_ = direct.Publish("x", []byte("1"))
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	px.Stall()
	_ = direct.Publish("x", []byte("2"))
	if _, err := sub.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatal("a message crossed a stalled proxy")
	}
	px.Heal()
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
	px.Cut()
	deadline := time.Now().Add(5 * time.Second)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !nc.IsClosed() {
		t.Fatal("the connection survived a cut")
	}
}
