package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/internal/config"
)

// homePath resolves a configured path against the node's home.
func homePath(home, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(home, p)
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// ServerTLS is the API listener's TLS configuration, or nil when the
// configuration gives no certificate (plain HTTP). TLS 1.2 is the floor;
// Go's defaults choose the cipher suites (AEAD with forward secrecy only for
// TLS 1.2) and curves; HTTP/2 is offered.
func ServerTLS(home string, t config.TLS) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(homePath(home, t.CertFile), homePath(home, t.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("api.tls: %w", err)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if t.ClientCAFile != "" {
		pool, err := loadPool(homePath(home, t.ClientCAFile))
		if err != nil {
			return nil, fmt.Errorf("api.tls.client_ca_file: %w", err)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if t.ClientAuth == "require" {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return c, nil
}

// PeerClient is the HTTP client a gateway fetches blobs from peers with:
// their CA (system roots when none is configured) and this node's client
// certificate for mutual TLS when one is configured.
func PeerClient(home string, p config.PeerTLS) (*http.Client, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.CAFile != "" {
		pool, err := loadPool(homePath(home, p.CAFile))
		if err != nil {
			return nil, fmt.Errorf("blobs.peer_tls.ca_file: %w", err)
		}
		c.RootCAs = pool
	}
	if p.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(homePath(home, p.CertFile), homePath(home, p.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("blobs.peer_tls: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	tr = tr.Clone()
	tr.TLSClientConfig = c
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}, nil
}
