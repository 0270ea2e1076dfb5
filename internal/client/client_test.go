package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// TestNotAMedchainNode: a server that is not a medchain node (a web server's
// HTML 404, an empty 502, HTML with 200) gives an error that says so,
// never an empty message or a JSON decoding error.
func TestNotAMedchainNode(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   []string
	}{
		{"HTML 404", 404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>", []string{"does not answer as a medchain node", "HTTP 404", "text/html", "404 Not Found", "--node"}},
		{"empty 502", 502, "", "", []string{"does not answer as a medchain node", "HTTP 502", "an empty body"}},
		{"HTML 200", 200, "text/html", "<!doctype html><title>router admin</title>", []string{"does not answer as a medchain node", "HTTP 200", "router admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := client.New(srv.URL)
			_, err := c.Status(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("status: %q lacks %q", err, w)
				}
			}
			k, _ := crypto.GenerateKey(nil)
			if _, err := c.SubmitRaw(context.Background(), []byte{1}, true); err == nil || !strings.Contains(err.Error(), "does not answer as a medchain node") {
				t.Errorf("submit: %v", err)
			}
			if _, err := c.Sequence(context.Background(), k.Address()); err == nil || !strings.Contains(err.Error(), "does not answer as a medchain node") {
				t.Errorf("sequence: %v", err)
			}
		})
	}
}

// TestSequenceRaceRetriedOnce: a transaction refused for its sequence
// (tx/6) or as a duplicate (api/6: another command signed the same message
// with the same sequence) is signed again with the node's next sequence,
// counting the mempool, and sent once more; a second refusal is returned.
func TestSequenceRaceRetriedOnce(t *testing.T) {
	for _, tt := range []struct {
		name    string
		refuse  func(w http.ResponseWriter)
		refusal int // refusals before success; 2 = never succeeds
		wantErr string
	}{
		{"wrong sequence", refuseSequence, 1, ""},
		{"duplicate", refuseDuplicate, 1, ""},
		{"twice", refuseSequence, 2, "wrong sequence"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var seqs []uint64
			next := uint64(5)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.URL.Path == "/v1/status":
					_, _ = w.Write([]byte(`{"chain_id":"c"}`))
				case strings.HasPrefix(r.URL.Path, "/v1/accounts/"):
					// committed 4; the mempool holds one more of this account
					_, _ = fmt.Fprintf(w, `{"sequence":4,"next_sequence":%d}`, next)
				case r.URL.Path == "/v1/txs":
					b, _ := io.ReadAll(r.Body)
					tx, err := sm.DecodeTx(b)
					if err != nil {
						t.Errorf("decode: %v", err)
					}
					seqs = append(seqs, tx.Body.Sequence)
					next++ // whatever was sent, another process took the sequence
					if len(seqs) <= tt.refusal {
						tt.refuse(w)
						return
					}
					_, _ = w.Write([]byte(`{"hash":"AB","committed":true,"height":3}`))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			c := client.New(srv.URL)
			k, _ := crypto.GenerateKey(nil)
			res, err := c.Send(context.Background(), k, &accounts.MsgRegisterPatient{EncKey: k.EncKey()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			} else if err != nil || !res.Committed {
				t.Fatalf("send: %v", err)
			}
			if want := []uint64{5, 6}; !slices.Equal(seqs, want) {
				t.Fatalf("sequences sent %v, want %v (the mempool's next, then the next after the race)", seqs, want)
			}
		})
	}
}

func refuseSequence(w http.ResponseWriter) {
	_, _ = w.Write([]byte(`{"hash":"AA","committed":false,"code":6,"codespace":"tx","log":"wrong sequence: replayed or out of order: got 5, want 6"}`))
}

func refuseDuplicate(w http.ResponseWriter) {
	w.WriteHeader(http.StatusConflict)
	_, _ = w.Write([]byte(`{"code":6,"codespace":"api","message":"duplicate transaction: transaction already submitted"}`))
}

// TestGetWaitsOutRateLimit: a read refused with 429 is tried again after
// the node's Retry-After, a bounded number of times; other errors are not
// retried.
func TestGetWaitsOutRateLimit(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch {
		case r.URL.Path == "/v1/limited" && calls < 3:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"codespace":"api","code":10,"message":"rate limited"}`)
		case r.URL.Path == "/v1/limited":
			fmt.Fprint(w, `{"ok":true}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"codespace":"consent","code":17,"message":"no consent"}`)
		}
	}))
	defer srv.Close()
	c := client.New(srv.URL)
	var out struct{ OK bool }
	if err := c.Get(context.Background(), "/v1/limited", &out); err != nil || !out.OK || calls != 3 {
		t.Fatalf("after two 429s: %v, %+v, %d calls", err, out, calls)
	}
	calls = 0
	if err := c.Get(context.Background(), "/v1/forbidden", &out); err == nil || calls != 1 {
		t.Fatalf("a 403 was retried: %v, %d calls", err, calls)
	}
}
