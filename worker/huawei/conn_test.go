package huawei

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(cloudsim.New(s))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	p := New(Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL, Timeout: 2 * time.Second})
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
	if n := opened.Load(); n > 2*goroutines {
		t.Errorf("%d connections for %d calls from %d goroutines, want at most %d", n, goroutines*calls, goroutines, 2*goroutines)
	}
}
