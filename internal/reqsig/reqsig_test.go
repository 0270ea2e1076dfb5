package reqsig

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
)

const testChain = "medchain-test-1"

var t0 = time.Unix(1_800_000_000, 0)

// clock is a settable time source, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testKey(t testing.TB, b byte) *crypto.PrivKey {
	t.Helper()
	k, err := crypto.KeyFromSeeds(bytes.Repeat([]byte{b}, 32), bytes.Repeat([]byte{b ^ 0xff}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newVerifier(c *clock) *Verifier {
	return &Verifier{ChainID: testChain, Now: c.Now}
}

// signed builds a request signed by key at t0 for a minute.
func signed(t testing.TB, key *crypto.PrivKey, method, url string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, url, bytes.NewReader(body))
	if err := Sign(req, key, testChain, t0, time.Minute, body); err != nil {
		t.Fatal(err)
	}
	return req
}

const blobPath = "/v1/blobs/3f0a5b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8"

func TestVerifyValid(t *testing.T) {
	key := testKey(t, 1)
	tests := []struct {
		name, method, url string
		body              []byte
	}{
		{"get a blob", http.MethodGet, blobPath, nil},
		{"get with a query", http.MethodGet, blobPath + "?purpose=treatment&x=%20y", nil},
		{"put a blob", http.MethodPut, blobPath, []byte("ciphertext")},
		{"escaped path", http.MethodGet, "/v1/records/a%2Fb/%C3%A9", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(newClock(t0))
			req := signed(t, key, tc.method, tc.url, tc.body)
			pub, err := v.Verify(req, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if pub != key.PubKey() {
				t.Fatalf("Verify returned %s, want %s", pub, key.PubKey())
			}
		})
	}
}

func TestVerifyTampered(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	body := []byte("ciphertext")
	tests := []struct {
		name   string
		tamper func(r *http.Request, v *Verifier) []byte // returns the body to verify
	}{
		{"path", func(r *http.Request, _ *Verifier) []byte { r.URL.Path += "0"; return body }},
		{"query", func(r *http.Request, _ *Verifier) []byte { r.URL.RawQuery = "purpose=research"; return body }},
		{"query parameter added", func(r *http.Request, _ *Verifier) []byte { r.URL.RawQuery += "&x=1"; return body }},
		{"method", func(r *http.Request, _ *Verifier) []byte { r.Method = http.MethodPost; return body }},
		{"body", func(r *http.Request, _ *Verifier) []byte { return []byte("ciphertexT") }},
		{"body dropped", func(r *http.Request, _ *Verifier) []byte { return nil }},
		{"expiry", func(r *http.Request, _ *Verifier) []byte {
			r.Header.Set(HeaderExpires, strconv.FormatInt(t0.Add(30*time.Second).Unix(), 10))
			return body
		}},
		{"nonce", func(r *http.Request, _ *Verifier) []byte {
			r.Header.Set(HeaderNonce, strings.Repeat("ab", NonceSize))
			return body
		}},
		{"chain id", func(_ *http.Request, v *Verifier) []byte { v.ChainID = "medchain-other"; return body }},
		{"signer", func(r *http.Request, _ *Verifier) []byte {
			r.Header.Set(HeaderSigner, other.PubKey().String())
			return body
		}},
		{"signature", func(r *http.Request, _ *Verifier) []byte {
			sig := []byte(r.Header.Get(HeaderSignature))
			sig[10] = map[bool]byte{true: '1', false: '0'}[sig[10] == '0']
			r.Header.Set(HeaderSignature, string(sig))
			return body
		}},
		{"signed by another key", func(r *http.Request, _ *Verifier) []byte {
			sig := other.Sign(SignBytes(testChain, r.Method, r.URL.RequestURI(),
				t0.Add(time.Minute).Unix(), r.Header.Get(HeaderNonce), body))
			r.Header.Set(HeaderSignature, hex.EncodeToString(sig))
			return body
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(newClock(t0))
			req := signed(t, key, http.MethodPut, blobPath+"?purpose=treatment", body)
			got := tc.tamper(req, v)
			if _, err := v.Verify(req, got); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify: %v, want ErrBadSignature", err)
			}
			if n := v.Len(); n != 0 {
				t.Fatalf("a rejected request left %d nonces in the cache", n)
			}
		})
	}
}

func TestVerifyHeaderErrors(t *testing.T) {
	key := testKey(t, 1)
	set := func(name, value string) func(http.Header) {
		return func(h http.Header) { h.Set(name, value) }
	}
	del := func(name string) func(http.Header) {
		return func(h http.Header) { h.Del(name) }
	}
	tests := []struct {
		name    string
		edit    func(http.Header)
		wantErr error
	}{
		{"no signer", del(HeaderSigner), ErrMissing},
		{"no expires", del(HeaderExpires), ErrMissing},
		{"no nonce", del(HeaderNonce), ErrMissing},
		{"no signature", del(HeaderSignature), ErrMissing},
		{"no headers at all", func(h http.Header) {
			for _, n := range []string{HeaderSigner, HeaderExpires, HeaderNonce, HeaderSignature} {
				h.Del(n)
			}
		}, ErrMissing},
		{"empty signer", set(HeaderSigner, ""), ErrMalformed},
		{"short signer", set(HeaderSigner, strings.Repeat("a", 62)), ErrMalformed},
		{"upper-case signer", func(h http.Header) { h.Set(HeaderSigner, strings.ToUpper(h.Get(HeaderSigner))) }, ErrMalformed},
		{"signer with prefix", func(h http.Header) { h.Set(HeaderSigner, "0x"+h.Get(HeaderSigner)[2:]) }, ErrMalformed},
		{"address instead of key", set(HeaderSigner, key.Address().String()), ErrMalformed},
		{"expires with leading zero", func(h http.Header) { h.Set(HeaderExpires, "0"+h.Get(HeaderExpires)) }, ErrMalformed},
		{"expires with plus", func(h http.Header) { h.Set(HeaderExpires, "+"+h.Get(HeaderExpires)) }, ErrMalformed},
		{"negative expires", set(HeaderExpires, "-1"), ErrMalformed},
		{"fractional expires", func(h http.Header) { h.Set(HeaderExpires, h.Get(HeaderExpires)+".5") }, ErrMalformed},
		{"expires in RFC 3339", set(HeaderExpires, t0.Format(time.RFC3339)), ErrMalformed},
		{"huge expires", set(HeaderExpires, strings.Repeat("9", 19)), ErrMalformed},
		{"empty expires", set(HeaderExpires, ""), ErrMalformed},
		{"short nonce", set(HeaderNonce, strings.Repeat("0", 30)), ErrMalformed},
		{"non-hex nonce", set(HeaderNonce, strings.Repeat("z", 32)), ErrMalformed},
		{"short signature", func(h http.Header) { h.Set(HeaderSignature, h.Get(HeaderSignature)[:126]) }, ErrMalformed},
		{"upper-case signature", func(h http.Header) { h.Set(HeaderSignature, strings.ToUpper(h.Get(HeaderSignature))) }, ErrMalformed},
		{"signer twice", func(h http.Header) { h.Add(HeaderSigner, h.Get(HeaderSigner)) }, ErrMalformed},
		{"nonce twice", func(h http.Header) { h.Add(HeaderNonce, strings.Repeat("0", 32)) }, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(newClock(t0))
			req := signed(t, key, http.MethodGet, blobPath, nil)
			tc.edit(req.Header)
			if _, err := v.Verify(req, nil); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyTimeWindow(t *testing.T) {
	key := testKey(t, 1)
	tests := []struct {
		name    string
		ttl     time.Duration
		maxTTL  time.Duration
		elapsed time.Duration // verifier clock minus signing time
		wantErr error
	}{
		{"fresh", time.Minute, 0, 0, nil},
		{"one second left", time.Minute, 0, 59 * time.Second, nil},
		{"at expiry", time.Minute, 0, time.Minute, ErrExpired},
		{"after expiry", time.Minute, 0, time.Hour, ErrExpired},
		{"exactly the default max ttl", DefaultMaxTTL, 0, 0, nil},
		{"beyond the default max ttl", DefaultMaxTTL + time.Second, 0, 0, ErrTooFarAhead},
		{"a day ahead", 24 * time.Hour, 0, 0, ErrTooFarAhead},
		{"client clock ahead within max ttl", time.Minute, 0, -4 * time.Minute, nil},
		{"client clock ahead beyond max ttl", time.Minute, 0, -5 * time.Minute, ErrTooFarAhead},
		{"custom max ttl", 2 * time.Minute, time.Minute, 0, ErrTooFarAhead},
		{"custom max ttl, within", 30 * time.Second, time.Minute, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, blobPath, nil)
			if err := Sign(req, key, testChain, t0, tc.ttl, nil); err != nil {
				t.Fatal(err)
			}
			v := &Verifier{ChainID: testChain, MaxTTL: tc.maxTTL, Now: newClock(t0.Add(tc.elapsed)).Now}
			if _, err := v.Verify(req, nil); !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	key := testKey(t, 1)
	c := newClock(t0)
	v := newVerifier(c)
	req := signed(t, key, http.MethodGet, blobPath, nil)
	if _, err := v.Verify(req, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(req, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("second Verify: %v, want ErrReplay", err)
	}
	// Another key cannot reuse the nonce either: nonces are random, so a
	// repeat is a replay or a broken client.
	other := signed(t, testKey(t, 2), http.MethodGet, blobPath, nil)
	other.Header.Set(HeaderNonce, req.Header.Get(HeaderNonce))
	exp, _ := strconv.ParseInt(other.Header.Get(HeaderExpires), 10, 64)
	var nonce [NonceSize]byte
	_, _ = hex.Decode(nonce[:], []byte(req.Header.Get(HeaderNonce)))
	signWith(other, testKey(t, 2), testChain, exp, nonce, nil)
	if _, err := v.Verify(other, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("same nonce, other key: %v, want ErrReplay", err)
	}
	// Once the request has expired it fails as expired, and its nonce is
	// forgotten.
	c.Advance(time.Minute)
	if _, err := v.Verify(req, nil); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify after expiry: %v, want ErrExpired", err)
	}
	v.Prune()
	if n := v.Len(); n != 0 {
		t.Fatalf("Len after expiry = %d, want 0", n)
	}
}

func TestNonceCacheEvicts(t *testing.T) {
	key := testKey(t, 1)
	c := newClock(t0)
	v := newVerifier(c)
	sign := func(ttl time.Duration) *http.Request {
		req := httptest.NewRequest(http.MethodGet, blobPath, nil)
		if err := Sign(req, key, testChain, c.Now(), ttl, nil); err != nil {
			t.Fatal(err)
		}
		return req
	}
	for i := range 150 {
		ttl := 30 * time.Second
		if i%3 == 0 {
			ttl = 2 * time.Minute
		}
		if _, err := v.Verify(sign(ttl), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.Len(); n != 150 {
		t.Fatalf("Len = %d, want 150", n)
	}
	c.Advance(time.Minute)
	v.Prune()
	if n := v.Len(); n != 50 {
		t.Fatalf("Len a minute later = %d, want the 50 two-minute nonces", n)
	}
	// Verify evicts as it goes, without Prune.
	c.Advance(2 * time.Minute)
	if _, err := v.Verify(sign(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	if n := v.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

func TestNonceCacheFull(t *testing.T) {
	key := testKey(t, 1)
	c := newClock(t0)
	v := &Verifier{ChainID: testChain, Now: c.Now, MaxNonces: 3}
	var reqs []*http.Request
	for range 3 {
		req := signed(t, key, http.MethodGet, blobPath, nil)
		if _, err := v.Verify(req, nil); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	if _, err := v.Verify(signed(t, key, http.MethodGet, blobPath, nil), nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify with a full cache: %v, want ErrBusy", err)
	}
	if StatusCode(ErrBusy) != http.StatusServiceUnavailable {
		t.Fatal("ErrBusy should map to 503")
	}
	// The cache still refuses replays when full.
	if _, err := v.Verify(reqs[0], nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay with a full cache: %v, want ErrReplay", err)
	}
	c.Advance(time.Minute)
	req := httptest.NewRequest(http.MethodGet, blobPath, nil)
	if err := Sign(req, key, testChain, c.Now(), time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(req, nil); err != nil {
		t.Fatalf("Verify once the old nonces expired: %v", err)
	}
}

// TestConcurrentVerify sends every request to several goroutines at once:
// each must be accepted exactly once. Run with -race.
func TestConcurrentVerify(t *testing.T) {
	keys := []*crypto.PrivKey{testKey(t, 1), testKey(t, 2), testKey(t, 3)}
	c := newClock(t0)
	v := &Verifier{ChainID: testChain, Now: c.Now, MaxNonces: 1 << 12}
	const requests, copies = 200, 4
	reqs := make([]*http.Request, requests)
	for i := range reqs {
		reqs[i] = signed(t, keys[i%len(keys)], http.MethodGet, fmt.Sprintf("%s?i=%d", blobPath, i), nil)
	}
	var accepted, replayed sync.Map
	var wg sync.WaitGroup
	for g := range copies {
		wg.Go(func() {
			for i := range reqs {
				i := (i + g*requests/copies) % requests // start at different places
				// Each goroutine verifies its own copy of the request.
				r := reqs[i].Clone(t.Context())
				_, err := v.Verify(r, nil)
				switch {
				case err == nil:
					if _, dup := accepted.LoadOrStore(i, true); dup {
						t.Errorf("request %d accepted twice", i)
					}
				case errors.Is(err, ErrReplay):
					replayed.Store(fmt.Sprint(i, g), true)
				default:
					t.Errorf("request %d: %v", i, err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			v.Prune()
			_ = v.Len()
		}
	})
	wg.Wait()
	n, r := 0, 0
	accepted.Range(func(any, any) bool { n++; return true })
	replayed.Range(func(any, any) bool { r++; return true })
	if n != requests || r != requests*(copies-1) {
		t.Fatalf("%d accepted and %d replays, want %d and %d", n, r, requests, requests*(copies-1))
	}
	if v.Len() != requests {
		t.Fatalf("Len = %d, want %d", v.Len(), requests)
	}
}

func TestSignRejects(t *testing.T) {
	key := testKey(t, 1)
	req := httptest.NewRequest(http.MethodGet, blobPath, nil)
	for _, chain := range []string{"", "a\x00b"} {
		if err := Sign(req, key, chain, t0, time.Minute, nil); err == nil {
			t.Errorf("Sign accepted chain id %q", chain)
		}
	}
	if err := Sign(req, key, testChain, t0, 500*time.Millisecond, nil); err == nil {
		t.Error("Sign accepted a ttl under a second")
	}
	if _, err := (&Verifier{}).Verify(signed(t, key, http.MethodGet, blobPath, nil), nil); err == nil {
		t.Error("a Verifier without a chain id accepted a request")
	}
}

func TestStatusCode(t *testing.T) {
	for _, err := range []error{ErrMissing, ErrMalformed, ErrExpired, ErrTooFarAhead, ErrBadSignature, ErrReplay} {
		if got := StatusCode(fmt.Errorf("wrapped: %w", err)); got != http.StatusUnauthorized {
			t.Errorf("StatusCode(%v) = %d, want 401", err, got)
		}
	}
}

// TestOverHTTP signs with a real client and verifies in a real server, so the
// request target is what crossed the wire.
func TestOverHTTP(t *testing.T) {
	key := testKey(t, 1)
	v := &Verifier{ChainID: testChain}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pub, err := v.Verify(r, body)
		if err != nil {
			http.Error(w, err.Error(), StatusCode(err))
			return
		}
		fmt.Fprint(w, pub)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		method, path string
		body         []byte
	}{
		{http.MethodGet, blobPath, nil},
		{http.MethodGet, blobPath + "?purpose=treatment&note=a%20b%2Bc", nil},
		{http.MethodGet, "/v1/records/a%2Fb/%C3%A9/x;y", nil},
		{http.MethodPut, blobPath, []byte("ciphertext bytes")},
		{http.MethodDelete, blobPath, nil},
	} {
		var body io.Reader
		if tc.body != nil {
			body = bytes.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := Sign(req, key, testChain, time.Now(), time.Minute, tc.body); err != nil {
			t.Fatal(err)
		}
		for attempt, want := range []int{http.StatusOK, http.StatusUnauthorized} {
			if attempt == 1 && tc.body != nil {
				req.Body = io.NopCloser(bytes.NewReader(tc.body))
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("%s %s attempt %d: %d %s, want %d", tc.method, tc.path, attempt, resp.StatusCode, got, want)
			}
			if want == http.StatusOK && string(got) != key.PubKey().String() {
				t.Fatalf("server saw signer %s", got)
			}
		}
	}
}

// BenchmarkVerify measures one direct request's verification: header
// parsing, body hash, Ed25519 and the replay cache.
func BenchmarkVerify(b *testing.B) {
	key := testKey(b, 1)
	v := &Verifier{ChainID: testChain, Now: newClock(t0).Now, MaxNonces: b.N + 1}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = signed(b, key, http.MethodGet, blobPath, nil)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := v.Verify(reqs[i], nil); err != nil {
			b.Fatal(err)
		}
	}
}
