package action

import (
	"crypto/tls"
	"net/http"
)

// MaxIdleConnsPerHost is how many idle connections to one endpoint the
// providers keep. Go's default is 2: with more calls than that in flight,
// every extra call used to open (and, against a real endpoint, handshake)
// a connection and close it after one request.
const MaxIdleConnsPerHost = 64

// NewTransport returns the HTTP transport the providers' SDK clients use:
// Go's default (proxy from the environment, dial and TLS handshake
// timeouts, HTTP/2, idle connections closed after 90s) with TLS 1.2 at
// least and MaxIdleConnsPerHost kept connections per endpoint.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * MaxIdleConnsPerHost
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return t
}
