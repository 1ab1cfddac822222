// Package cloudsimtest serves the cloud simulator for a test, as
// net/http/httptest serves an HTTP handler.
package cloudsimtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/cloudsim"
)

// Start serves a simulator seeded with seedText on a loopback port until
// the test ends.
func Start(tb testing.TB, seedText string) *cloudsim.Server {
	tb.Helper()
	s, err := cloudsim.ParseSeed([]byte(seedText))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := cloudsim.Start("127.0.0.1:0", cloudsim.New(s))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// A connection the client dialed and never used counts as busy
		// for 5 s in Shutdown: do not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv
}

// CheckReuse runs call from more goroutines than Go's default idle pool
// (2), many times each, and fails tb unless the client kept its
// connections: about one per goroutine, not one per call.
func CheckReuse(tb testing.TB, srv *cloudsim.Server, call func() error) {
	tb.Helper()
	const goroutines, calls = 8, 25
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if err := call(); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := srv.Conns(); n > 2*goroutines {
		tb.Errorf("%d connections for %d calls from %d goroutines, want at most %d", n, goroutines*calls, goroutines, 2*goroutines)
	}
}
