package query

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
	"path/filepath"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 (its own CA)
// and its key to dir, and returns their paths.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kstreams query test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServerTLS serves HTTPS with a certificate made by the test, loaded
// with LoadTLS: a client trusting it is answered (and must still send the
// bearer token), a plain HTTP request and a client that does not trust the
// certificate are not.
func TestServerTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	server, client, err := LoadTLS(certFile, keyFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTLS(certFile, keyFile, keyFile); err == nil {
		t.Error("LoadTLS with a CA file holding no certificate: no error")
	}
	addr := freeAddr(t)
	srv := newTestServerWith(t, []kstreams.Option{kstreams.ApplicationServer(addr)}, TLS(server, client), BearerToken("s3cret"))
	if srv.Scheme() != "https" {
		t.Errorf("Scheme() = %q, want https", srv.Scheme())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	}()
	trusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: client}}
	get := func(c *http.Client, url string, token string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var status int
	deadline := time.Now().Add(5 * time.Second)
	for status, err = get(trusting, "https://"+addr+"/health", ""); err != nil && time.Now().Before(deadline); status, err = get(trusting, "https://"+addr+"/health", "") {
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET https /health: %d, %v; want 200", status, err)
	}
	for _, tt := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"wrong", http.StatusUnauthorized}, {"s3cret", http.StatusServiceUnavailable}} {
		if status, err := get(trusting, "https://"+addr+"/v1/stores/counts/keys/1", tt.token); err != nil || status != tt.want {
			t.Errorf("GET https key with token %q: %d, %v; want %d", tt.token, status, err, tt.want)
		}
	}
	if status, err := get(&http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/health", ""); err == nil && status == http.StatusOK {
		t.Error("plain HTTP to the TLS server answered 200")
	}
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if _, err := get(untrusting, "https://"+addr+"/health", ""); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}
}
