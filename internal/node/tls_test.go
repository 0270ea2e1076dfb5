package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/reqsig"
)

// testCA issues certificates for the test: a self-signed CA and leaves
// signed by it, written as PEM files under dir.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "medchain test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{dir: dir, cert: cert, key: key, file: filepath.Join(dir, "ca.pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue writes name.pem and name-key.pem: a leaf for 127.0.0.1 usable by a
// server and a client.
func (ca *testCA) issue(t *testing.T, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kb)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveTLS serves h with the node's server TLS configuration on a loopback
// port, as Node.Start does, and returns its https base URL.
func serveTLS(t *testing.T, home string, c config.TLS, h http.Handler) string {
	t.Helper()
	cfg, err := ServerTLS(home, c)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
}

// TestServeTLS: with a certificate the API answers over TLS 1.2+ to a client
// that trusts the CA, and refuses TLS 1.1 and plain HTTP.
func TestServeTLS(t *testing.T) {
	home := t.TempDir()
	ca := newTestCA(t, home)
	cert, key := ca.issue(t, "node0", 2)
	// Relative paths are relative to the home, as in medchain.json.
	base := serveTLS(t, home, config.TLS{CertFile: filepath.Base(cert), KeyFile: filepath.Base(key)}, okHandler())
	client, err := PeerClient(home, config.PeerTLS{CAFile: "ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(base + "/v1/status")
	if err != nil {
		t.Fatalf("TLS client call: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTP %d %q over %+v, want 200 ok over TLS 1.2+", resp.StatusCode, body, resp.TLS)
	}

	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: client.Transport.(*http.Transport).TLSClientConfig.RootCAs, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(base + "/v1/status"); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	plain := strings.Replace(base, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/v1/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}
	// A client that does not trust the CA refuses the server.
	if _, err := http.Get(base + "/v1/status"); err == nil {
		t.Fatal("a client without the CA accepted the self-signed server")
	}
}

// TestMutualTLSRequire: with client_auth "require" a client without a
// certificate is refused at the handshake; one with a certificate from the
// CA is served.
func TestMutualTLSRequire(t *testing.T) {
	home := t.TempDir()
	ca := newTestCA(t, home)
	cert, key := ca.issue(t, "node0", 2)
	peerCert, peerKey := ca.issue(t, "node1", 3)
	base := serveTLS(t, home, config.TLS{CertFile: cert, KeyFile: key, ClientCAFile: ca.file, ClientAuth: "require"}, okHandler())

	anon, err := PeerClient(home, config.PeerTLS{CAFile: ca.file})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := anon.Get(base + "/v1/blobs/x"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate was served: HTTP %d", resp.StatusCode)
	}
	peer, err := PeerClient(home, config.PeerTLS{CAFile: ca.file, CertFile: peerCert, KeyFile: peerKey})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := peer.Get(base + "/v1/blobs/x")
	if err != nil {
		t.Fatalf("a peer with a certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a peer with a certificate: HTTP %d", resp.StatusCode)
	}

	// A certificate from another CA is refused too.
	other := newTestCA(t, t.TempDir())
	oc, ok := other.issue(t, "intruder", 4)
	intruder, err := PeerClient(home, config.PeerTLS{CAFile: ca.file, CertFile: oc, KeyFile: ok})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := intruder.Get(base + "/v1/blobs/x"); err == nil {
		resp.Body.Close()
		t.Fatal("a client certificate from another CA was accepted")
	}
}

// TestForwardedBlobNeedsPeerCert: with a client CA in "verify_if_given"
// mode, ordinary clients connect without certificates, but a blob request
// forwarded by another node (X-Medchain-Forwarder) is refused unless the
// connection carried a verified client certificate.
func TestForwardedBlobNeedsPeerCert(t *testing.T) {
	home := t.TempDir()
	ca := newTestCA(t, home)
	cert, key := ca.issue(t, "node0", 2)
	peerCert, peerKey := ca.issue(t, "node1", 3)
	gw := &fakeGateway{}
	h := api.New(nil, api.Options{Gateway: gw, PeerCertRequired: true, ChainID: "tls-test",
		Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry()})
	base := serveTLS(t, home, config.TLS{CertFile: cert, KeyFile: key, ClientCAFile: ca.file}, h)

	anon, err := PeerClient(home, config.PeerTLS{CAFile: ca.file})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := PeerClient(home, config.PeerTLS{CAFile: ca.file, CertFile: peerCert, KeyFile: peerKey})
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client, forwarded bool) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/v1/blobs/"+strings.Repeat("ab", 32), nil)
		if err != nil {
			t.Fatal(err)
		}
		if forwarded {
			req.Header.Set(reqsig.HeaderForwarder, strings.Repeat("0", 64))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(anon, false); code != 200 {
		t.Fatalf("a user without a client certificate: HTTP %d, want 200 (the gateway decides)", code)
	}
	if code := get(anon, true); code != http.StatusForbidden {
		t.Fatalf("a forwarded request without a client certificate: HTTP %d, want 403", code)
	}
	if code := get(peer, true); code != 200 {
		t.Fatalf("a forwarded request from a peer with a certificate: HTTP %d, want 200", code)
	}
	if gw.gets != 2 {
		t.Fatalf("the gateway saw %d requests, want 2", gw.gets)
	}
}

type fakeGateway struct{ gets int }

func (g *fakeGateway) PutBlob(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusCreated)
}
func (g *fakeGateway) GetBlob(w http.ResponseWriter, _ *http.Request) {
	g.gets++
	_, _ = io.WriteString(w, "blob")
}
func (g *fakeGateway) RecordKey(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

// TestTLSConfigValidation: half a TLS configuration is an error.
func TestTLSConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		tls  config.TLS
	}{
		{"cert without key", config.TLS{CertFile: "c.pem"}},
		{"client CA without a certificate", config.TLS{ClientCAFile: "ca.pem"}},
		{"unknown client auth", config.TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "sometimes"}},
		{"client auth without a CA", config.TLS{CertFile: "c", KeyFile: "k", ClientAuth: "require"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.API.TLS = tc.tls
			if err := c.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
		})
	}
	if _, err := ServerTLS(t.TempDir(), config.TLS{CertFile: "missing.pem", KeyFile: "missing-key.pem"}); err == nil ||
		!errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing files: %v, want a not-exist error", err)
	}
}
