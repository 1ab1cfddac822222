package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/remediator/remediator/worker/ingest"
)

// ingestLimits bound what a client, authenticated or not, can hold: time
// per request and per idle connection, header bytes, bodies read before
// authentication, and the age of a signature.
type ingestLimits struct {
	readTimeout, writeTimeout, idleTimeout time.Duration
	signatureWindow                        time.Duration
	maxUnauthenticated                     int
}

// maxHeaderBytes: CloudEvents headers are small; the server's default (1 MiB)
// would let each connection hold a megabyte before any check.
const maxHeaderBytes = 64 << 10

func (l *ingestLimits) register(fs *pflag.FlagSet) {
	fs.DurationVar(&l.readTimeout, "read-timeout", 30*time.Second, "longest time to read a whole request, headers and body")
	fs.DurationVar(&l.writeTimeout, "write-timeout", 60*time.Second, "longest time from a request's headers to the end of its answer (above --read-timeout)")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", 60*time.Second, "longest time a kept-alive connection may stay idle")
	fs.DurationVar(&l.signatureWindow, "signature-window", ingest.DefaultSignatureWindow, "largest difference between a signature's timestamp and the clock")
	fs.IntVar(&l.maxUnauthenticated, "max-unauthenticated", ingest.DefaultMaxUnauthenticated, "signed request bodies read at once before authentication; more get 503 with Retry-After")
}

func (l ingestLimits) validate() error {
	if l.readTimeout <= 0 || l.idleTimeout <= 0 || l.signatureWindow <= 0 || l.maxUnauthenticated <= 0 {
		return fmt.Errorf("--read-timeout, --idle-timeout, --signature-window and --max-unauthenticated must be positive")
	}
	if l.writeTimeout <= l.readTimeout {
		return fmt.Errorf("--write-timeout (%s) must be above --read-timeout (%s): it counts from the headers, through the body and the publish", l.writeTimeout, l.readTimeout)
	}
	return nil
}

// server is the HTTP server of ingest with every timeout set.
func (l ingestLimits) server(h http.Handler) *http.Server {
	rht := 10 * time.Second
	if l.readTimeout < rht {
		rht = l.readTimeout
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: rht, ReadTimeout: l.readTimeout,
		WriteTimeout: l.writeTimeout, IdleTimeout: l.idleTimeout, MaxHeaderBytes: maxHeaderBytes}
}
