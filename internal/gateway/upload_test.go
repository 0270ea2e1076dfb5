package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/sm/smtest"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
)

const uploadChain = "gateway-upload-test"

func ukey(name string) *crypto.PrivKey { return smtest.Key("gateway-upload-test", name) }

type treeState struct{ tree *merkle.Tree }

func (s treeState) Latest() (*merkle.Snapshot, time.Time, error) {
	snap, err := s.tree.Snapshot(s.tree.Version())
	return snap, time.Unix(1_800_000_000, 0), err
}

// watchedBody is a request body that records whether anyone read it.
type watchedBody struct {
	r    io.Reader
	read bool
}

func (b *watchedBody) Read(p []byte) (int, error) { b.read = true; return b.r.Read(p) }
func (b *watchedBody) Close() error               { return nil }

func uploadServer(t *testing.T) *Server {
	t.Helper()
	tree := merkle.NewMemTree()
	t.Cleanup(func() { tree.Close() })
	g := accounts.Genesis{Accounts: []accounts.GenesisAccount{
		{PubKey: ukey("alice").PubKey(), EncKey: ukey("alice").EncKey(), Kind: "patient"},
	}}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	ctx := sm.Context{ChainID: uploadChain, Height: 1, Time: time.Unix(1_800_000_000, 0), Store: tree, Events: &sm.Events{}, Valset: &sm.ValidatorUpdates{}}
	if err := (accounts.Module{}).InitGenesis(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tree.Commit(); err != nil {
		t.Fatal(err)
	}
	st := treeState{tree}
	return &Server{
		ChainID: uploadChain, Blobs: blob.NewMemory(nil), State: st, MaxBlob: 1 << 20,
		Log: slog.New(slog.DiscardHandler),
		Verifier: &reqsig.Verifier{ChainID: uploadChain, Authorize: func(pub crypto.PubKey) error {
			snap, _, err := st.Latest()
			if err != nil {
				return err
			}
			if a := accounts.GetAccount(snap, pub.Address()); a == nil || a.PubKey != pub {
				return errors.New("no account")
			}
			return nil
		}},
	}
}

// TestUploadRefusedBeforeBodyIsRead is the upload flood: an upload that is
// unsigned, signed by a key without an account, signed over another body,
// or declared larger than the limit is refused without its body being read;
// a member's upload is authenticated first and then stored.
func TestUploadRefusedBeforeBodyIsRead(t *testing.T) {
	s := uploadServer(t)
	data := []byte("ciphertext of a record")
	sum := sha256.Sum256(data)
	path := "/v1/blobs/" + hex.EncodeToString(sum[:])
	put := func(signer string, signedBody []byte, contentLength int64) (*httptest.ResponseRecorder, *watchedBody) {
		body := &watchedBody{r: bytes.NewReader(data)}
		req := httptest.NewRequest(http.MethodPut, path, nil)
		req.Body, req.ContentLength = body, contentLength
		req.SetPathValue("hash", hex.EncodeToString(sum[:]))
		if signer != "" {
			if err := reqsig.Sign(req, ukey(signer), uploadChain, time.Now(), time.Minute, signedBody); err != nil {
				t.Fatal(err)
			}
		}
		w := httptest.NewRecorder()
		s.PutBlob(w, req)
		return w, body
	}
	tests := []struct {
		name          string
		signer        string
		signedBody    []byte
		contentLength int64
		want          int
	}{
		{"unsigned", "", nil, int64(len(data)), http.StatusUnauthorized},
		{"a key without an account", "mallory", data, int64(len(data)), http.StatusForbidden},
		{"signed over another body", "alice", []byte("something else"), int64(len(data)), http.StatusUnauthorized},
		{"declared over the limit", "alice", data, 64 << 20, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, body := put(tc.signer, tc.signedBody, tc.contentLength)
			if w.Code != tc.want {
				t.Fatalf("HTTP %d %s, want %d", w.Code, w.Body, tc.want)
			}
			if body.read {
				t.Fatal("the body was read before the upload was refused")
			}
		})
	}
	if n := s.Verifier.Len(); n != 0 {
		t.Fatalf("the refused uploads left %d nonces in the replay cache", n)
	}
	w, body := put("alice", data, int64(len(data)))
	if w.Code != http.StatusCreated || !body.read {
		t.Fatalf("alice's upload: HTTP %d %s (body read %v), want 201", w.Code, w.Body, body.read)
	}
	if got, err := s.Blobs.Get(t.Context(), sum); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored blob: %q, %v", got, err)
	}
}
