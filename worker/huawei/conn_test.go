package huawei

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestConnectionsAreReused: many calls from more goroutines than Go's
// default idle pool (2) open about one connection per goroutine, not one
// per call.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	s, err := cloudsim.ParseSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cloudsim.Start("127.0.0.1:0", cloudsim.New(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A connection the client dialed and never used counts as busy
		// for 5 s in Shutdown: do not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = srv.Close(ctx)
	})
	p := New(Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL(), Timeout: 2 * time.Second})
	const goroutines, calls = 8, 25
	a := &EnableKeyRotation{p: p}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := a.Ensure(context.Background(), action.Request{Params: params(keyOn)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := srv.Conns(); n > 2*goroutines {
		t.Errorf("%d connections for %d calls from %d goroutines, want at most %d", n, goroutines*calls, goroutines, 2*goroutines)
	}
}
