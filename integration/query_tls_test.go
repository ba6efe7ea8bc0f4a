package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
)

// selfSignedTLS returns the TLS configs of a self-signed certificate for
// 127.0.0.1 made here: the server's, and a client's that trusts it.
func selfSignedTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kstreams integration"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return server, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestQueryTLSAndBearerToken runs two instances whose query servers serve
// HTTPS and require a bearer token: every key asked through either
// instance answers its count, so forwarded calls go over TLS and carry
// the token; a call without the token is refused with 401.
func TestQueryTLSAndBearerToken(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	topo := countTopology(t, in, nil)
	server, client := selfSignedTLS(t)
	var addrs []string
	for range 2 {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		r := runApp(t, topo, kstreams.ApplicationServer(addr), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
		q, err := query.New(r.app)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := query.KeyValueStore[string, int64](q, countStore, serde.String())
		if err != nil {
			t.Fatal(err)
		}
		srv := query.NewServer(q, query.TLS(server, client), query.BearerToken("s3cret"))
		query.Serve(srv, kv, nil)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := srv.ListenAndServe(ctx); err != nil {
				t.Errorf("query server %s: %v", addr, err)
			}
		}()
		t.Cleanup(func() {
			cancel()
			<-served
		})
	}
	truth := keyedCounts(t, in, 4, 500)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: client}}
	get := func(addr, key, token string) (int64, int, error) {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/v1/stores/"+countStore+"/keys/"+url.PathEscape(key), nil)
		if err != nil {
			return 0, 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		var body struct {
			Value int64 `json:"value"`
		}
		if resp.StatusCode == http.StatusOK {
			err = json.NewDecoder(resp.Body).Decode(&body)
		}
		return body.Value, resp.StatusCode, err
	}
	poll(t, 60*time.Second, "every key to answer through both instances over TLS with the token", func() (bool, string) {
		for _, addr := range addrs {
			for k, want := range truth {
				if v, status, err := get(addr, k, "s3cret"); err != nil || status != http.StatusOK || v != want {
					return false, fmt.Sprintf("%s via %s: %d (status %d, %v), want %d", k, addr, v, status, err, want)
				}
			}
		}
		return true, ""
	})
	for _, token := range []string{"", "wrong"} {
		if _, status, err := get(addrs[0], "key-00001", token); err != nil || status != http.StatusUnauthorized {
			t.Errorf("a key with token %q: %d, %v; want 401", token, status, err)
		}
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get("https://" + addrs[0] + "/health"); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}
}
