package fhir_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/bench"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/x/session"
)

// TestTokenSurvivesRestart: a token (with its delegated session) keeps
// working after the node restarts, writes included; the token file holds
// neither the token nor the session seeds in the clear; a revoked token
// stays revoked across a restart. Its own node, so the shared one is not
// disturbed.
func TestTokenSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	base := bench.DevConfig(100 * time.Millisecond)
	dev, err := bench.StartDevNode(dir, "fhir-restart", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := dev.Node
	defer func() { _ = n.Stop() }()
	home, apiURL := dev.Home, dev.API()
	c := client.New(apiURL)
	ctx := context.Background()
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ks := keystore.Open(config.KeysDir(home))
	ks.Params = keystore.LightParams()
	k, err := ks.Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fhir.Login(ctx, nil, apiURL+"/fhir", k, fhir.LoginOptions{
		Scope: "patient/*.read patient/*.write",
		OrgKey: func(ctx context.Context, org string) (crypto.EncKey, error) {
			var o api.OrgView
			if err := c.Get(ctx, "/v1/orgs/"+org, &o); err != nil {
				return crypto.EncKey{}, err
			}
			return crypto.ParseEncKey(o.EncKey)
		},
		Delegate: func(ctx context.Context, sk *crypto.PrivKey, l session.Limits) error {
			s, acct, err := c.NewAccountSigner(ctx, k)
			if err != nil {
				return err
			}
			_, err = c.StartSession(ctx, s, acct, sk, l)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, apiURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	obs := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/` +
		k.Address().String() + `"},"effectiveDateTime":"2024-02-02T10:00:00Z","valueQuantity":{"value":70,"unit":"/min"}}`
	if got := call(http.MethodPost, "/fhir/Observation", obs); got != http.StatusCreated {
		t.Fatalf("before the restart: HTTP %d", got)
	}
	file := filepath.Join(config.DataDir(home), "fhir-tokens.bin")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no token file: %v", err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode())
	}
	if bytes.Contains(raw, []byte(tok.AccessToken)) || bytes.Contains(raw, []byte(k.Address().String())) || bytes.Contains(raw, []byte("scope")) {
		t.Fatal("the token file holds the token or its session in the clear")
	}

	restart := func() {
		t.Helper()
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(home)
		if err != nil {
			t.Fatal(err)
		}
		if n, err = node.New(home, cfg, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		h, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitHeight(ctx, h.Height+1); err != nil {
			t.Fatal(err)
		}
	}
	restart()
	if got := call(http.MethodGet, "/fhir/Observation?patient=Patient/"+k.Address().String(), ""); got != http.StatusOK {
		t.Fatalf("read after the restart: HTTP %d", got)
	}
	if got := call(http.MethodPost, "/fhir/Observation", obs); got != http.StatusCreated {
		t.Fatalf("write after the restart: HTTP %d", got)
	}
	if got := call(http.MethodPost, "/fhir/auth/revoke", ""); got != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", got)
	}
	if got := call(http.MethodGet, "/fhir/Observation", ""); got != http.StatusUnauthorized {
		t.Fatalf("revoked token: HTTP %d", got)
	}
	restart()
	if got := call(http.MethodGet, "/fhir/Observation", ""); got != http.StatusUnauthorized {
		t.Fatalf("revoked token after a restart: HTTP %d", got)
	}
}
