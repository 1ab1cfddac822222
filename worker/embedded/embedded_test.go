package embedded

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStoreLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := Start(Options{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(Options{StoreDir: dir})
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Dir != dir || inUse.Lock != filepath.Join(dir, lockName) {
		t.Fatalf("second start on the store: %v, want an InUseError naming pid %d", err, os.Getpid())
	}
	if want := "in use by process " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	a.Shutdown()
	b, err := Start(Options{StoreDir: dir})
	if err != nil {
		t.Fatalf("start after the first shut down: %v", err)
	}
	b.Shutdown()
}

func TestListenAddressTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	_, err = Start(Options{StoreDir: t.TempDir(), Listen: ln.Addr().String()})
	var le *ListenError
	if !errors.As(err, &le) || le.Addr != ln.Addr().String() || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v, want a ListenError for %s with EADDRINUSE", err, ln.Addr())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s", took)
	}
}

// TestFatalEndsTheWait takes the route port, which Start does not probe:
// the server's fatal log line must end the wait at once with its text.
func TestFatalEndsTheWait(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	_, err = Start(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Name: "n1", Cluster: &Cluster{Name: "c", Listen: ln.Addr().String()}})
	if err == nil || !strings.Contains(err.Error(), "Error listening on router port") {
		t.Fatalf("err = %v, want the server's listen error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s: the fatal line did not end the wait", took)
	}
}
