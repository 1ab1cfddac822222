package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockName is the lock file in the store directory; while a server runs on
// the store it holds the lock and the file names its process.
const lockName = "remediator.lock"

// InUseError is a store directory another server holds (in this process
// or another one).
type InUseError struct {
	Dir  string // the store directory
	PID  int    // the holder's process id, 0 when unknown
	Lock string // the lock file
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("embedded nats: store %s is in use by %s (lock %s)", e.Dir, holder, e.Lock)
}

// storeLock is a held lock on a store directory.
type storeLock struct{ f *os.File }

// lockStore takes the store directory's lock without waiting and writes
// this process's id into it. Where the platform has no lock (see
// lock_other.go) it only writes the id.
func lockStore(dir string) (*storeLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded nats: lock %s: %w", path, err)
	}
	if held {
		b, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		f.Close()
		return nil, &InUseError{Dir: dir, PID: pid, Lock: path}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &storeLock{f: f}, nil
}

// release lets the store go; closing the file drops the lock, as the
// process's exit does.
func (l *storeLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}
