package alibaba

import (
	"context"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim/cloudsimtest"
)

// TestConnectionsAreReused: calls from more goroutines than Go's default
// idle pool (2) open about one connection per goroutine, not one per call.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	srv := cloudsimtest.Start(t, seed)
	p := New(Config{Credentials: Credentials{AccessKeyID: "LTAIACCOUNTKEY00", AccessKeySecret: "account-secret"}, Endpoint: srv.URL(), Timeout: 2 * time.Second})
	a := p.Actions()[0]
	cloudsimtest.CheckReuse(t, srv, func() error {
		_, err := a.Ensure(context.Background(), action.Request{Params: map[string]string{"region": "cn-hangzhou", "account": account, "kms_key_id": approved}, DryRun: true})
		return err
	})
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
