package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex>[,v1=<hex>...]": a
// timestamp and one or more HMAC-SHA256 signatures (several while a secret
// is rotated) of the canonical string of the request (SigningString).
const SignatureHeader = "X-Remediator-Signature"

// DefaultSignatureWindow is how far a signature's timestamp may be from
// the receiver's clock, either way.
const DefaultSignatureWindow = 5 * time.Minute

// maxSignatures bounds the v1 entries checked for one request.
const maxSignatures = 8

// signedHeaders are the CloudEvents context attributes of binary mode that
// the signature covers, in this order. They decide the event's identity
// (and so deduplication) and the allowlists.
var signedHeaders = [...]string{"Ce-Specversion", "Ce-Id", "Ce-Source", "Ce-Type"}

// signature is a parsed, well-formed SignatureHeader.
type signature struct {
	t  string   // the timestamp as sent, signed as is
	v1 [][]byte // decoded signatures
}

// sigError is why a signature header is refused before the body is read.
type sigError struct{ reason, msg string }

func (e *sigError) Error() string { return e.msg }

var (
	errSigLegacy = &sigError{"signature_legacy", "the sha256=<hex> body signature is no longer accepted: send " +
		SignatureHeader + ": t=<unix seconds>,v1=<hex HMAC-SHA256 of t, ce-specversion, ce-id, ce-source, ce-type and the body, joined by newlines>"}
	errSigMissing = &sigError{"signature_missing", SignatureHeader + " needs t=<unix seconds> and at least one v1=<64 hex digits>"}
)

// parseSignature reads the header and refuses a timestamp outside the
// window around now. Unknown keys are ignored (room for later schemes).
func parseSignature(h string, now time.Time, window time.Duration) (*signature, error) {
	if strings.HasPrefix(strings.TrimSpace(h), "sha256=") {
		return nil, errSigLegacy
	}
	var s signature
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			s.t = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return nil, errSigMissing
			}
			if len(s.v1) < maxSignatures {
				s.v1 = append(s.v1, b)
			}
		}
	}
	ts, err := strconv.ParseInt(s.t, 10, 64)
	if err != nil || len(s.v1) == 0 {
		return nil, errSigMissing
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return nil, &sigError{"timestamp_outside_window", "the signature's timestamp is more than " + window.String() + " from the receiver's clock"}
	}
	return &s, nil
}

// SigningString is the canonical string a sender signs:
//
//	<t> LF <ce-specversion> LF <ce-id> LF <ce-source> LF <ce-type> LF <body>
//
// t is the header's timestamp as sent; the four attributes are the values
// of those HTTP headers as sent (binary mode), or empty when the header is
// absent (structured and batch modes, where the attributes are inside the
// body and so signed with it); body is the raw body. LF cannot occur in an
// HTTP header value, so no field can spill into the next (a dot, as in
// "acs.ecs", could).
func SigningString(t string, header http.Header, body []byte) ([]byte, error) {
	var b strings.Builder
	b.Grow(len(t) + len(body) + 128)
	b.WriteString(t)
	for _, k := range signedHeaders {
		vs := header.Values(k)
		if len(vs) > 1 {
			return nil, errors.New("more than one " + k + " header")
		}
		b.WriteByte('\n')
		if len(vs) == 1 {
			b.WriteString(vs[0])
		}
	}
	b.WriteByte('\n')
	b.Write(body)
	return []byte(b.String()), nil
}

// verify reports whether any v1 signature is the HMAC-SHA256 of msg with
// secret. An empty secret (no such source, or a token source) is replaced
// by a random-looking one so that the work, and the answer, are the same.
func (s *signature) verify(secret string, msg []byte) bool {
	known := secret != ""
	if !known {
		secret = "\x00no source has this secret\x00"
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(msg)
	want := mac.Sum(nil)
	ok := false
	for _, got := range s.v1 {
		ok = hmac.Equal(got, want) || ok
	}
	return ok && known
}

// Sign returns the SignatureHeader value for a request signed at t with
// secret (for senders written in Go and for tests).
func Sign(secret string, t time.Time, header http.Header, body []byte) (string, error) {
	ts := strconv.FormatInt(t.Unix(), 10)
	msg, err := SigningString(ts, header, body)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(msg)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil)), nil
}
