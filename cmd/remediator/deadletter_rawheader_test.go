package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/streams"
)

// hpubRaw publishes one message with the header block hdr as written, over
// a raw TCP connection speaking the NATS protocol (no client library
// would write a header line without a colon), and waits for the server's
// PONG so the message has been processed.
func hpubRaw(t *testing.T, addr, subject, hdr, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("server greeting %q: %v", line, err)
	}
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1,\"name\":\"raw-hpub\"}\r\n")
	fmt.Fprintf(c, "HPUB %s %d %d\r\n%s%s\r\nPING\r\n", subject, len(hdr), len(hdr)+len(body), hdr, body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for PONG: %v", err)
		}
		if strings.HasPrefix(line, "-ERR") {
			t.Fatalf("server refused the HPUB: %s", line)
		}
		if strings.HasPrefix(line, "PONG") {
			return
		}
	}
}

// TestDeadLetterKeepsHeadersOfBadHeaderBlock: a message whose header block
// has a line without a colon reaches the worker with no headers (nats.go
// refuses the whole block). Its dead letter still carries every parseable
// original header and, base64, the raw block.
func TestDeadLetterKeepsHeadersOfBadHeaderBlock(t *testing.T) {
	t.Parallel()
	ns := startNATSProcess(t, natsProcOptions{})
	js, logs := startRemediator(t, ns)
	hdr := "NATS/1.0\r\nX-Trace: trace-raw\r\ngarbage\r\nce-id: raw-1\r\nX-Tenant: acme\r\n\r\n"
	hpubRaw(t, ns.Addr, "remediation.events.raw", hdr, "not a cloudevent")
	f := waitSettledFigures(js, 1, 8*time.Second)
	if f.deadLetters != 1 {
		t.Fatalf("%s\n%s", f, tail(logs.String(), 2000))
	}
	m := streamMessages(t, js, "REMEDIATION_DLQ")[0]
	kept := 0
	for k, want := range map[string]string{"X-Trace": "trace-raw", "ce-id": "raw-1", "X-Tenant": "acme"} {
		if got := m.Header.Get(k); got == want {
			kept++
		} else {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(m.Header.Get(streams.HeaderOriginalHeaderBlock))
	if err != nil || string(raw) != hdr {
		t.Errorf("raw header block %q (%v), want %q", raw, err, hdr)
	}
	if string(m.Data) != "not a cloudevent" {
		t.Errorf("body %q", m.Data)
	}
	t.Logf("3 parseable original headers and one line without a colon: %d kept in the dead letter, raw block kept: %v; %s",
		kept, string(raw) == hdr, f)
}
