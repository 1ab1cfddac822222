package cloudsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

const huaweiAlg = "SDK-HMAC-SHA256"

// maxClockSkew is how far X-Sdk-Date may be from the simulator's clock.
const maxClockSkew = 15 * time.Minute

// verifyHuawei checks a request signed by the Huawei SDK's AK/SK signer:
// Authorization "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex"
// over the canonical request (method, URI ending in "/", sorted query,
// signed headers, signed header list, hex SHA-256 of the body).
func (s *Simulator) verifyHuawei(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, huaweiAlg+" ") {
		return errors.New("missing or unsupported Authorization")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, huaweiAlg+" "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	sk, ok := s.creds[fields["Access"]]
	if t, temp := s.tempCredential(fields["Access"]); temp {
		if r.Header.Get("X-Security-Token") != t.token {
			return errors.New("the security token does not match the temporary access key")
		}
		sk, ok = t.secret, true
	}
	if !ok {
		return errors.New("unknown access key")
	}
	date := r.Header.Get("X-Sdk-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return errors.New("missing or malformed X-Sdk-Date")
	}
	if d := s.now().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return fmt.Errorf("X-Sdk-Date is %s away from the server clock", d.Round(time.Second))
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "x-sdk-date") {
		return errors.New("x-sdk-date is not signed")
	}
	cr := canonicalRequest(r, signed, body)
	sum := sha256.Sum256([]byte(cr))
	sts := huaweiAlg + "\n" + date + "\n" + hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(sts))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return errors.New("signature does not match")
	}
	return nil
}

func canonicalRequest(r *http.Request, signed []string, body []byte) string {
	segs := strings.Split(r.URL.Path, "/")
	for i, v := range segs {
		segs[i] = escape(v)
	}
	uri := strings.Join(segs, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var qs []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			qs = append(qs, escape(k)+"="+escape(v))
		}
	}
	var hs []string
	for _, name := range signed {
		vs := r.Header.Values(name)
		if name == "host" {
			vs = []string{r.Host}
		}
		sort.Strings(vs)
		for _, v := range vs {
			hs = append(hs, name+":"+strings.TrimSpace(v))
		}
	}
	bodyHash := r.Header.Get("X-Sdk-Content-Sha256")
	if bodyHash == "" {
		sum := sha256.Sum256(body)
		bodyHash = hex.EncodeToString(sum[:])
	}
	return strings.Join([]string{r.Method, uri, strings.Join(qs, "&"), strings.Join(hs, "\n") + "\n",
		strings.Join(signed, ";"), bodyHash}, "\n")
}

// escape is the SDK's RFC 3986 escaping: unreserved characters stay.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
