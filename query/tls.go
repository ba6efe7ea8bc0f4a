package query

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// LoadTLS returns the TLS configs of [TLS] from PEM files: server serves
// the certificate of certFile with the key of keyFile; client trusts the
// certificates of caFile (empty: the system's roots) and presents the same
// certificate, for servers that ask for one (mutual TLS). Every instance
// needs a certificate valid for the host of its endpoint
// ([kstreams.ApplicationServer]).
func LoadTLS(certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("kstreams: query TLS: %w", err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("kstreams: query TLS: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("kstreams: query TLS: no certificate in %s", caFile)
		}
		client.RootCAs = pool
	}
	return server, client, nil
}
