package huawei

import (
	"context"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/cloudsim/cloudsimtest"
)

// TestConnectionsAreReused: many calls from more goroutines than Go's
// default idle pool (2) open about one connection per goroutine, not one
// per call.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	srv := cloudsimtest.Start(t, seed)
	p := New(Config{Credentials: Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey},
		Endpoint: srv.URL(), Timeout: 2 * time.Second})
	a := &EnableKeyRotation{p: p}
	cloudsimtest.CheckReuse(t, srv, func() error {
		_, err := a.Ensure(context.Background(), action.Request{Params: params(keyOn)})
		return err
	})
}
