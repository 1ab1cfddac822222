package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/embedded"
)

// TestIngestCommandOverTLS runs `remediator ingest` with a certificate and
// a bearer token and posts one event through HTTPS.
func TestIngestCommandOverTLS(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	writeFile(t, dir+"/token", "eb-secret-token\n")
	writeFile(t, dir+"/sources.yaml", "sources:\n  - {source: \"acs.*\", token_file: "+dir+"/token}\n")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"ingest", "--listen", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--sources", dir + "/sources.yaml",
			"--tls-cert", cert, "--tls-key", key, "--allow-type", "ecs:ActionTrail:*"}, &out, &errb)
	}()
	re := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	waitFor(t, "ingest to listen", func() bool {
		m := re.FindStringSubmatch(errb.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed test certificate
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr, strings.NewReader(`{"specversion":"1.0","id":"i-1","source":"acs.ecs","type":"ecs:ActionTrail:ApiCall"}`))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer eb-secret-token")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	nc, _ := ns.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, _ := js.Stream(context.Background(), "REMEDIATION_EVENTS")
	if info, _ := st.Info(context.Background()); info.State.Msgs != 1 {
		t.Errorf("%d events stored, want 1", info.State.Msgs)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d: %s", c, errb.String())
	}
	if strings.Contains(errb.String(), "eb-secret-token") {
		t.Error("the token appears in the logs")
	}
}

func selfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key := dir+"/cert.pem", dir+"/key.pem"
	_ = os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}
