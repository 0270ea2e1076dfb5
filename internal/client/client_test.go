package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
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
			if _, err := c.Sequence(context.Background(), k.Address()); (err == nil || !strings.Contains(err.Error(), "does not answer as a medchain node")) {
				t.Errorf("sequence: %v", err)
			}
		})
	}
}
