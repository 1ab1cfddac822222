package ingest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// credential is what a request presented, checked as far as its headers
// allow: a bearer token that belongs to at least one source, or a
// well-formed signature with a fresh timestamp (which can only be checked
// against the body, once it is read).
type credential struct {
	token string
	sig   *signature
}

// authenticated reports whether the credential was proven before the body.
func (c credential) authenticated() bool { return c.sig == nil }

// authenticate checks the request's headers, before any of the body is
// read. Its answer depends on the request and the clock only, never on
// which sources are configured, so that no one learns them without a
// credential: an unknown source looks like a known one with a wrong
// credential.
func (h *Handler) authenticate(r *http.Request) (credential, *rejection) {
	if a := r.Header.Get("Authorization"); a != "" {
		tok, ok := strings.CutPrefix(a, "Bearer ")
		if !ok || !h.anyToken(tok) {
			return credential{}, &rejection{http.StatusUnauthorized, "unauthenticated", "missing or wrong credentials"}
		}
		return credential{token: tok}, nil
	}
	sh := r.Header.Get(SignatureHeader)
	if sh == "" {
		return credential{}, &rejection{http.StatusUnauthorized, "credentials_missing",
			"send Authorization: Bearer <token> or " + SignatureHeader + ": t=<unix seconds>,v1=<hex>"}
	}
	sig, err := parseSignature(sh, h.now(), h.cfg.SignatureWindow)
	if err != nil {
		var se *sigError
		if errors.As(err, &se) {
			return credential{}, &rejection{http.StatusUnauthorized, se.reason, se.msg}
		}
		return credential{}, &rejection{http.StatusUnauthorized, "signature_missing", err.Error()}
	}
	return credential{sig: sig}, nil
}

// anyToken compares tok with every source's token in constant time, so the
// time taken says nothing about which one matched.
func (h *Handler) anyToken(tok string) bool {
	found := 0
	for _, s := range h.cfg.Sources {
		if s.Token != "" {
			found |= subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token))
		}
	}
	return found == 1
}

// authorise decides one event of an authenticated request: a token must be
// the token of the event's source (the first pattern matching it), and a
// signature must verify with that source's secret over the canonical
// string (msg). A bearer of a valid token learns only that the source is
// not theirs (403); a signature that does not verify, whatever the
// source, is 401 signature_invalid.
func (h *Handler) authorise(c credential, msg []byte, e event.Event) *rejection {
	src, ok := h.source(e.Source())
	if c.sig != nil {
		if !c.sig.verify(src.HMACSecret, msg) {
			return &rejection{http.StatusUnauthorized, "signature_invalid", "no v1 signature matches the request"}
		}
		return nil
	}
	if !ok || src.Token == "" || subtle.ConstantTimeCompare([]byte(c.token), []byte(src.Token)) != 1 {
		return &rejection{http.StatusForbidden, "source_not_allowed", "source " + e.Source() + " is not allowed for this token"}
	}
	return nil
}

// signingString is the canonical string of a signed request, nil for a
// bearer request.
func signingString(c credential, r *http.Request, body []byte) ([]byte, *rejection) {
	if c.sig == nil {
		return nil, nil
	}
	msg, err := SigningString(c.sig.t, r.Header, body)
	if err != nil {
		return nil, &rejection{http.StatusUnauthorized, "signature_invalid", err.Error()}
	}
	return msg, nil
}
