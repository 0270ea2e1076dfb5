package reqsig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/vectors.json from the code instead of checking it")

const vectorsPath = "testdata/vectors.json"

type vectorFile struct {
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`
}

// vector is one signed request, with what another implementation needs to
// check each step. Keys come from fixed Ed25519 seeds.
type vector struct {
	Name        string `json:"name"`
	SignerSeed  string `json:"signer_seed"`
	Signer      string `json:"signer"`
	ChainID     string `json:"chain_id"`
	Method      string `json:"method"`
	URL         string `json:"url"`
	RequestURI  string `json:"request_uri"`
	Expires     int64  `json:"expires"`
	Nonce       string `json:"nonce"`
	Body        string `json:"body"` // hex
	BodySHA256  string `json:"body_sha256"`
	SignedBytes string `json:"signed_bytes"` // hex
	Signature   string `json:"signature"`

	ForwarderSeed      string `json:"forwarder_seed,omitempty"`
	Forwarder          string `json:"forwarder,omitempty"`
	ForwardSignedBytes string `json:"forward_signed_bytes,omitempty"`
	ForwarderSignature string `json:"forwarder_signature,omitempty"`
}

type vectorSpec struct {
	name, method, url string
	body              string
	signer, forwarder byte // seed bytes; forwarder 0 for none
	nonce             byte
}

var vectorSpecs = []vectorSpec{
	{name: "get-blob", method: "GET", url: "https://node1.example/v1/blobs/3f0a5b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8", signer: 0x11, nonce: 0x01},
	{name: "get-with-query", method: "GET", url: "https://node1.example/v1/blobs/3f0a5b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8?purpose=treatment&note=a%20b", signer: 0x11, nonce: 0x02},
	{name: "put-blob", method: "PUT", url: "https://node1.example/v1/blobs", body: "medchain ciphertext", signer: 0x22, nonce: 0x03},
	{name: "escaped-path", method: "GET", url: "https://node1.example/v1/records/a%2Fb/%C3%A9", signer: 0x22, nonce: 0x04},
	{name: "forwarded-get", method: "GET", url: "https://node2.example/v1/blobs/3f0a5b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8", signer: 0x11, forwarder: 0x33, nonce: 0x05},
}

const vectorChain = "medchain-vectors-1"

var vectorExpires = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func seedKey(t *testing.T, b byte) (*crypto.PrivKey, string) {
	t.Helper()
	seed := bytes.Repeat([]byte{b}, 32)
	k, err := crypto.KeyFromSeeds(seed, bytes.Repeat([]byte{b ^ 0xff}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k, hex.EncodeToString(seed)
}

func makeVector(t *testing.T, s vectorSpec) vector {
	key, seed := seedKey(t, s.signer)
	var nonce [NonceSize]byte
	for i := range nonce {
		nonce[i] = s.nonce + byte(i)
	}
	req := httptest.NewRequest(s.method, s.url, strings.NewReader(s.body))
	signWith(req, key, vectorChain, vectorExpires, nonce, []byte(s.body))
	bodyHash := sha256Hex([]byte(s.body))
	v := vector{
		Name: s.name, SignerSeed: seed, Signer: key.PubKey().String(),
		ChainID: vectorChain, Method: s.method, URL: s.url, RequestURI: req.URL.RequestURI(),
		Expires: vectorExpires, Nonce: req.Header.Get(HeaderNonce),
		Body: hex.EncodeToString([]byte(s.body)), BodySHA256: bodyHash,
		SignedBytes: hex.EncodeToString(SignBytes(vectorChain, s.method, req.URL.RequestURI(), vectorExpires, req.Header.Get(HeaderNonce), []byte(s.body))),
		Signature:   req.Header.Get(HeaderSignature),
	}
	if s.forwarder != 0 {
		fkey, fseed := seedKey(t, s.forwarder)
		if err := SignForward(req, fkey, vectorChain); err != nil {
			t.Fatal(err)
		}
		v.ForwarderSeed, v.Forwarder = fseed, fkey.PubKey().String()
		v.ForwardSignedBytes = hex.EncodeToString(ForwardSignBytes(vectorChain, v.Signature, vectorExpires))
		v.ForwarderSignature = req.Header.Get(HeaderForwarderSignature)
	}
	return v
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestVectors regenerates testdata/vectors.json and checks it is unchanged
// (or rewrites it with -rewrite).
func TestVectors(t *testing.T) {
	file := vectorFile{
		Description: "medchain signed HTTP requests v1 (internal/reqsig/doc.go). Keys: Ed25519 from the 32-byte seeds. " +
			"signed_bytes = join with 0x00 of \"medchain/request/v1\", chain_id, method, request_uri, decimal expires, nonce, body_sha256 (lowercase hex); " +
			"request_uri = URL(url).pathname + URL(url).search; signature = Ed25519(signer, signed_bytes). " +
			"forward_signed_bytes = join with 0x00 of \"medchain/forward/v1\", chain_id, signature (hex text), decimal expires; forwarder_signature = Ed25519(forwarder, forward_signed_bytes). " +
			"body and signed bytes are hex.",
	}
	for _, s := range vectorSpecs {
		file.Vectors = append(file.Vectors, makeVector(t, s))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(file); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if *rewrite {
		if err := os.WriteFile(vectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the code; if the change is intended, run go test -run TestVectors -rewrite", vectorsPath)
	}
}

func readVectors(t *testing.T) vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 4 {
		t.Fatalf("%d vectors, want at least 4", len(file.Vectors))
	}
	return file
}

// TestVectorsVerify checks the checked-in requests with a Verifier, from the
// headers alone, as a node receiving them would.
func TestVectorsVerify(t *testing.T) {
	for _, v := range readVectors(t).Vectors {
		t.Run(v.Name, func(t *testing.T) {
			body, err := hex.DecodeString(v.Body)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(v.Method, v.URL, bytes.NewReader(body))
			req.Header.Set(HeaderSigner, v.Signer)
			req.Header.Set(HeaderExpires, strconv.FormatInt(v.Expires, 10))
			req.Header.Set(HeaderNonce, v.Nonce)
			req.Header.Set(HeaderSignature, v.Signature)
			if v.Forwarder != "" {
				req.Header.Set(HeaderForwarder, v.Forwarder)
				req.Header.Set(HeaderForwarderSignature, v.ForwarderSignature)
			}
			ver := &Verifier{ChainID: v.ChainID, Now: func() time.Time { return time.Unix(v.Expires, 0).Add(-time.Minute) }}
			if v.Forwarder == "" {
				if _, err := ver.Verify(req, body); err != nil {
					t.Fatal(err)
				}
			} else if _, _, err := ver.VerifyForwarded(req, body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBrowserInterop runs the JavaScript reference (testdata/reqsig.mjs,
// WebCrypto only) against the vectors, when node is installed.
func TestBrowserInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	readVectors(t)
	cmd := exec.Command(node, "interop.mjs", "vectors.json")
	cmd.Dir = "testdata"
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node interop.mjs: %v\n%s%s", err, out, stderr)
	}
	// The last line is a request that signRequest made just now.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("%s", lines[0])
	var fresh struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Body    string            `json:"body"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &fresh); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	req := httptest.NewRequest(fresh.Method, fresh.URL, strings.NewReader(fresh.Body))
	for k, v := range fresh.Headers {
		req.Header.Set(k, v)
	}
	v := &Verifier{ChainID: vectorChain}
	if _, err := v.Verify(req, []byte(fresh.Body)); err != nil {
		t.Fatalf("a request signed by signRequest in node: %v", err)
	}
}
