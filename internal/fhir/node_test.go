package fhir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
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
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/session"
)

// One development node (the gateway of dev-hospital) serves every test and
// benchmark of the package.
var shared struct {
	once sync.Once
	dir  string
	api  string
	home string
	node *node.Node
	keys map[string]*crypto.PrivKey
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.node != nil {
		if err := shared.node.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop node:", err)
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// devNode starts the shared node on first use and returns its API base URL.
func devNode(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "medchain-fhir-test-")
		if shared.err != nil {
			return
		}
		base := bench.DevConfig(*devTimeoutCommit)
		base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
		dev, err := bench.StartDevNode(shared.dir, "fhir-test", base, nil)
		if err != nil {
			shared.err = err
			return
		}
		shared.node, shared.api, shared.home = dev.Node, dev.API(), dev.Home
		home := dev.Home
		ks := keystore.Open(config.KeysDir(home))
		ks.Params = keystore.LightParams()
		shared.keys = map[string]*crypto.PrivKey{}
		for _, a := range devnet.Accounts {
			k, err := ks.Load(a.Name, devnet.DevPassphrase)
			if err != nil {
				shared.err = err
				return
			}
			shared.keys[a.Name] = k
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, shared.err = client.New(shared.api).WaitHeight(ctx, 2)
	})
	if shared.err != nil {
		t.Fatalf("dev node: %v", shared.err)
	}
	return shared.api
}

func key(t testing.TB, name string) *crypto.PrivKey {
	t.Helper()
	devNode(t)
	k := shared.keys[name]
	if k == nil {
		t.Fatalf("no dev key %s", name)
	}
	return k
}

func addr(t testing.TB, name string) crypto.Address { return key(t, name).Address() }

// newPatient registers a fresh patient account, so that each test has its
// own records to search.
func newPatient(t testing.TB, name string) string {
	t.Helper()
	devNode(t)
	k, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(shared.api).Send(context.Background(), k, &accounts.MsgRegisterPatient{EncKey: k.EncKey()}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	shared.keys[name] = k
	return name
}

// loginOptions are what a client passes to fhir.Login: the organization's
// key as the chain says (the CLI proves it against a light-client header;
// these tests trust their own node) and the on-chain session delegation,
// signed with the account's key on the client side.
func loginOptions(t testing.TB, name, scope string) fhir.LoginOptions {
	c := client.New(devNode(t))
	k := key(t, name)
	return fhir.LoginOptions{
		Scope: scope,
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
	}
}

// login logs a dev account in with the given scopes.
func login(t testing.TB, name, scope string, o ...func(*fhir.LoginOptions)) *fhir.TokenResponse {
	t.Helper()
	opts := loginOptions(t, name, scope)
	for _, f := range o {
		f(&opts)
	}
	tok, err := fhir.Login(context.Background(), nil, devNode(t)+"/fhir", key(t, name), opts)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return tok
}

// token logs a dev account in with the given scopes.
func token(t testing.TB, name, scope string, o ...func(*fhir.LoginOptions)) string {
	t.Helper()
	return login(t, name, scope, o...).AccessToken
}

func noDelegation(o *fhir.LoginOptions) { o.NoDelegation = true }

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("HTTP %d, not JSON: %v\n%s", r.status, err, r.body)
	}
	return m
}

// outcomeCode returns the medchain error code of an OperationOutcome.
func (r reply) outcomeCode(t testing.TB) string {
	t.Helper()
	m := r.json(t)
	if m["resourceType"] != "OperationOutcome" {
		t.Fatalf("HTTP %d: not an OperationOutcome: %s", r.status, r.body)
	}
	issue := m["issue"].([]any)[0].(map[string]any)
	details, _ := issue["details"].(map[string]any)
	codings, _ := details["coding"].([]any)
	if len(codings) == 0 {
		return ""
	}
	return codings[0].(map[string]any)["code"].(string)
}

var hc = &http.Client{Timeout: 2 * time.Minute}

func do(t testing.TB, method, path, tok string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, devNode(t)+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func want(t testing.TB, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); len(r.body) > 0 && !strings.HasPrefix(ct, "application/fhir+json") {
		t.Fatalf("Content-Type %q", ct)
	}
	return r
}

// grant has patient grant a consent through the API, sharing existing keys.
func grant(t testing.TB, patient string, m consent.MsgGrant) uint64 {
	t.Helper()
	c := client.New(devNode(t))
	ctx := context.Background()
	s, err := c.NewSigner(ctx, key(t, patient))
	if err != nil {
		t.Fatal(err)
	}
	m.Patient = addr(t, patient)
	if m.Purpose == "" {
		m.Purpose = consent.PurposeTreatment
	}
	res, err := c.Grant(ctx, s, &m)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	return res.ConsentID
}

func revoke(t testing.TB, patient string, id uint64) {
	t.Helper()
	c := client.New(devNode(t))
	if _, err := c.Send(context.Background(), key(t, patient), &consent.MsgRevoke{ID: id}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}
