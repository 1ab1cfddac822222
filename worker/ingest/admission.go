package ingest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxUnauthenticated is how many request bodies may be read at once
// before their sender is authenticated (signed requests: the signature
// covers the body).
const DefaultMaxUnauthenticated = 32

// admission bounds the bodies read before authentication: at most cap(slots)
// at once, each at most MaxBodyBytes, so they hold at most
// MaxUnauthenticated x MaxBodyBytes whatever the number of connections.
type admission struct {
	slots chan struct{}
}

func newAdmission(n int) *admission {
	return &admission{slots: make(chan struct{}, n)}
}

// admit takes a slot for an unauthenticated body, or refuses at once: a
// waiting queue would itself hold connections. An authenticated request
// needs no slot. release is idempotent.
func (a *admission) admit(c credential) (release func(), rej *rejection) {
	if c.authenticated() {
		return func() {}, nil
	}
	select {
	case a.slots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-a.slots }) }, nil
	default:
		return nil, &rejection{http.StatusServiceUnavailable, "too_many_unauthenticated",
			"too many signed requests are being read: retry"}
	}
}

// readBody reads at most limit bytes. A body of a declared length is read
// into one buffer of that length (none if it is over the limit): growing
// a buffer as io.ReadAll does would leave up to three times the body in
// garbage for each slot.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength < 0 {
		return io.ReadAll(rd)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// bodyRejection classifies a failed body read.
func bodyRejection(err error, limit int64) rejection {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return rejection{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", limit)}
	case errors.As(err, &ne) && ne.Timeout():
		return rejection{http.StatusRequestTimeout, "read_timeout", "the body was not received in time"}
	default:
		return rejection{http.StatusBadRequest, "unreadable", "the body could not be read"}
	}
}

// now is the handler's clock.
func (h *Handler) now() time.Time {
	if h.cfg.Now != nil {
		return h.cfg.Now()
	}
	return time.Now()
}
