// Package embeddedtest starts an embedded JetStream server for a test, as
// net/http/httptest starts an HTTP server.
package embeddedtest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/embedded"
)

// Start starts a server storing in a temporary directory and connects to
// it in process. The connection and the server end with the test.
func Start(tb testing.TB) (*embedded.Server, *nats.Conn, jetstream.JetStream) {
	tb.Helper()
	srv, err := embedded.Start(embedded.Options{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, nc, js
}
