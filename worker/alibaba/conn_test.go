package alibaba

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestConnectionsAreReused: calls from more goroutines than Go's default
// idle pool (2) open about one connection per goroutine, not one per call.
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
	p := New(Config{Credentials: Credentials{AccessKeyID: "LTAIACCOUNTKEY00", AccessKeySecret: "account-secret"}, Endpoint: srv.URL(), Timeout: 2 * time.Second})
	a := p.Actions()[0]
	const goroutines, calls = 8, 25
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := a.Ensure(context.Background(), action.Request{Params: map[string]string{"region": "cn-hangzhou", "account": account, "kms_key_id": approved}, DryRun: true}); err != nil {
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

// TestCanceledPacingWaitMakesNoCall: a call whose pacing wait outlives its
// context is not sent later.
func TestCanceledPacingWaitMakesNoCall(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Limiter = action.NewRateLimiter(action.Rates{"*": {PerSecond: 2, Burst: 1}}) })
	a := b.p.Actions()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// The status read takes the token; the key read waits 500ms for the
	// next one and the context ends first.
	_, err := a.Ensure(ctx, action.Request{Params: map[string]string{"region": "cn-hangzhou", "account": account, "kms_key_id": approved}})
	wantErr(t, err, action.Retryable, action.ReasonTimeout)
	before := len(b.sim.Calls())
	time.Sleep(700 * time.Millisecond) // past the token the wait was for
	if after := len(b.sim.Calls()); after != before {
		t.Errorf("%d calls went out after the action gave up", after-before)
	}
}
