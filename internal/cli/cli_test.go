package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/bench"
	"github.com/medchain/medchain/internal/cli"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/internal/ports"
)

// One development node serves every test of the package; tests run one
// after another and each uses its own keys where state would collide.
var shared struct {
	once sync.Once
	dir  string
	home string
	api  string
	node *node.Node
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

func freePort(t testing.TB) int {
	t.Helper()
	ps, err := ports.Free(1)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// devNode starts the shared node on first use and returns its home.
func devNode(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "medchain-cli-test-")
		if shared.err != nil {
			return
		}
		base := bench.DevConfig(100 * time.Millisecond)
		base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
		dev, err := bench.StartDevNode(shared.dir, "cli-test", base, nil)
		if err != nil {
			shared.err = err
			return
		}
		shared.node, shared.home, shared.api = dev.Node, dev.Home, dev.API()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, shared.err = client.New(shared.api).WaitHeight(ctx, 1)
	})
	if shared.err != nil {
		t.Fatalf("dev node: %v", shared.err)
	}
	return shared.home
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// env is a non-interactive environment with the development passphrase.
func env(vars map[string]string) cli.Env {
	return cli.Env{
		Stdin:  strings.NewReader(""),
		Getenv: func(k string) string { return vars[k] },
	}
}

func devEnv() cli.Env {
	return env(map[string]string{cli.PassphraseEnv: devnet.DevPassphrase})
}

// run executes the CLI against the shared node with the node's home.
func run(t testing.TB, e cli.Env, args ...string) result {
	t.Helper()
	home := devNode(t)
	var out, errb bytes.Buffer
	e.Stdout, e.Stderr = &out, &errb
	full := append([]string{"--home", home, "--node", shared.api}, args...)
	code := cli.Execute(e, full)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs a command that must succeed and returns its stdout.
func ok(t testing.TB, args ...string) string {
	t.Helper()
	r := run(t, devEnv(), args...)
	if r.code != 0 {
		t.Fatalf("medchain %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs a command that must fail and returns its stderr.
func fails(t testing.TB, args ...string) string {
	t.Helper()
	r := run(t, devEnv(), args...)
	if r.code == 0 {
		t.Fatalf("medchain %s succeeded, want failure: %v", strings.Join(args, " "), r)
	}
	return r.stderr
}

// eventually runs a command until it succeeds with output (the node's
// transaction index is written just after a block commits).
func eventually(t testing.TB, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := run(t, devEnv(), args...)
		if r.code == 0 && !strings.HasPrefix(r.stdout, "0 ") {
			return r.stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("medchain %s: %v", strings.Join(args, " "), r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func okJSON(t testing.TB, out any, args ...string) {
	t.Helper()
	s := ok(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("medchain %s --json: %v\n%s", strings.Join(args, " "), err, s)
	}
}

func account(t testing.TB, nameOrAddr string) api.AccountView {
	t.Helper()
	var a api.AccountView
	okJSON(t, &a, "account", "show", nameOrAddr)
	return a
}

func keyAddr(t testing.TB, name string) string {
	t.Helper()
	return strings.TrimSpace(ok(t, "keys", "show", name, "--address"))
}

func wantContains(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("missing %q in:\n%s", sub, s)
		}
	}
}

func TestStatus(t *testing.T) {
	out := ok(t, "status")
	wantContains(t, out, "chain id:", "cli-test", "height:", "app hash:", "node id:", "peers:")

	var st api.Status
	okJSON(t, &st, "status")
	if st.ChainID != "cli-test" || st.Height < 1 || st.NodeID == "" {
		t.Errorf("status: %+v", st)
	}
}

func TestKeysRoundTrip(t *testing.T) {
	out := ok(t, "keys", "add", "carol")
	wantContains(t, out, `Created key "carol"`, "address:", "pub_key:", "enc_key:")
	addr := keyAddr(t, "carol")
	if !strings.HasPrefix(addr, "mc") || len(addr) != 42 {
		t.Fatalf("keys show --address: %q", addr)
	}
	wantContains(t, ok(t, "keys", "list"), "carol", addr, "hospital-admin")
	wantContains(t, ok(t, "keys", "show", "carol"), addr)
	wantContains(t, ok(t, "keys", "show", addr), "carol") // by address
	if s := fails(t, "keys", "add", "carol"); !strings.Contains(s, "exists") {
		t.Errorf("adding an existing key: %s", s)
	}

	r := run(t, devEnv(), "keys", "export", "carol")
	if r.code != 0 {
		t.Fatal(r)
	}
	seed := strings.TrimSpace(r.stdout)
	if len(seed) != 128 {
		t.Fatalf("export printed %q", seed)
	}
	wantContains(t, r.stderr, "WARNING")

	// Import under a new name, once as an argument and once from stdin.
	ok(t, "keys", "import", "carol-copy", seed)
	if got := keyAddr(t, "carol-copy"); got != addr {
		t.Errorf("imported address %s, want %s", got, addr)
	}
	e := devEnv()
	e.Stdin = strings.NewReader(seed + "\n")
	if r := run(t, e, "keys", "import", "carol-stdin", "-"); r.code != 0 {
		t.Fatal(r)
	}
	if got := keyAddr(t, "carol-stdin"); got != addr {
		t.Errorf("imported from stdin: address %s, want %s", got, addr)
	}
	if s := fails(t, "keys", "import", "bad-seed", "abcd"); !strings.Contains(s, "128 hex digits") {
		t.Errorf("bad seed: %s", s)
	}

	// A new key from the default, strong KDF parameters.
	info, err := keystore.Open(config.KeysDir(devNode(t))).Info("carol")
	if err != nil || info.Address.String() != addr {
		t.Fatalf("keystore info: %v %v", info, err)
	}
}

func TestPassphraseSources(t *testing.T) {
	devNode(t)
	// No environment variable and no terminal.
	r := run(t, env(nil), "keys", "export", "patient1")
	if r.code == 0 || !strings.Contains(r.stderr, "set MEDCHAIN_PASSPHRASE or run at a terminal") {
		t.Errorf("no passphrase source: %v", r)
	}
	// A terminal: the prompt answers.
	answers := func(a ...string) cli.Env {
		e := env(nil)
		e.ReadSecret = func(string) (string, error) {
			if len(a) == 0 {
				return "", fmt.Errorf("no more answers")
			}
			s := a[0]
			a = a[1:]
			return s, nil
		}
		return e
	}
	if r := run(t, answers(devnet.DevPassphrase), "keys", "export", "patient1"); r.code != 0 {
		t.Errorf("passphrase at the prompt: %v", r)
	}
	if r := run(t, answers("pw-one", "pw-two"), "keys", "add", "mismatch"); r.code == 0 || !strings.Contains(r.stderr, "do not match") {
		t.Errorf("mismatched confirmation: %v", r)
	}
	if r := run(t, answers("pw-one", "pw-one"), "keys", "add", "prompted"); r.code != 0 {
		t.Errorf("confirmed passphrase: %v", r)
	}
	if r := run(t, answers("wrong"), "keys", "export", "prompted"); r.code == 0 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", r)
	}
}

func TestRegisterPatient(t *testing.T) {
	ok(t, "keys", "add", "dave")
	addr := keyAddr(t, "dave")
	if s := fails(t, "account", "show", "dave"); !strings.Contains(s, "does not exist") {
		t.Errorf("unregistered account: %s", s)
	}
	out := ok(t, "account", "register", "--from", "dave")
	wantContains(t, out, "committed tx", "in block", "registered patient "+addr)

	a := account(t, "dave")
	if a.Kind != "patient" || !a.Active || a.Address != addr {
		t.Errorf("account: %+v", a)
	}
	wantContains(t, ok(t, "account", "show", addr), "kind:", "patient")

	// Registering twice is a failed transaction with the accounts codespace.
	s := fails(t, "account", "register", "--from", addr) // --from by address
	wantContains(t, s, "accounts", "already exists")

	// The transaction index trails the commit a little.
	out = eventually(t, "account", "txs", "dave")
	wantContains(t, out, "1 transaction signed by", "accounts/register_patient")
}

func TestAccountProof(t *testing.T) {
	out := ok(t, "account", "show", "patient2", "--prove")
	wantContains(t, out, "kind:", "patient", "proof:", "verified against the app hash in block")
}

func TestMembers(t *testing.T) {
	ok(t, "keys", "add", "nurse1")
	addr := keyAddr(t, "nurse1")
	out := ok(t, "member", "add", "--from", "hospital-admin", "--role", "staff", "--key", "nurse1")
	wantContains(t, out, "registered "+addr+" as staff of dev-hospital")
	a := account(t, addr)
	if a.Kind != "member" || a.Org != "dev-hospital" || a.Role != "staff" || !a.Active {
		t.Fatalf("member: %+v", a)
	}
	wantContains(t, ok(t, "org", "show", "dev-hospital"), "Development General Hospital", addr+" (nurse1)", "staff")

	// Only an admin may deactivate.
	s := fails(t, "member", "deactivate", "--from", "doctor1", "nurse1")
	wantContains(t, s, "accounts", "code 3", "not an active admin")
	ok(t, "member", "deactivate", "--from", "hospital-admin", "nurse1")
	if a := account(t, "nurse1"); a.Active {
		t.Errorf("still active after deactivation: %+v", a)
	}

	// Public keys given in hex.
	ok(t, "keys", "add", "nurse2")
	k, err := keystore.Open(config.KeysDir(devNode(t))).Info("nurse2")
	if err != nil {
		t.Fatal(err)
	}
	ok(t, "member", "add", "--from", "lab-admin", "--role", "practitioner",
		"--pub-key", k.PubKey.String(), "--enc-key", k.EncKey.String())
	if a := account(t, "nurse2"); a.Org != "dev-lab" || a.Role != "practitioner" {
		t.Errorf("member by hex keys: %+v", a)
	}
	wantContains(t, fails(t, "member", "add", "--from", "lab-admin", "--role", "chief", "--key", "nurse1"), "unknown member role")
	wantContains(t, fails(t, "member", "add", "--from", "lab-admin", "--role", "staff"), "key", "pub-key")
}

func TestGuardian(t *testing.T) {
	g := keyAddr(t, "patient3")
	wantContains(t, ok(t, "guardian", "set", "--from", "patient1", "patient3"), g+" is now a guardian")
	if a := account(t, "patient1"); len(a.Guardians) != 1 || a.Guardians[0] != g {
		t.Errorf("guardians after set: %v", a.Guardians)
	}
	wantContains(t, ok(t, "account", "show", "patient1"), "guardians:", g+" (patient3)")
	wantContains(t, fails(t, "guardian", "set", "--from", "patient1", g), "already exists")
	ok(t, "guardian", "revoke", "--from", "patient1", g)
	if a := account(t, "patient1"); len(a.Guardians) != 0 {
		t.Errorf("guardians after revoke: %v", a.Guardians)
	}
	wantContains(t, fails(t, "guardian", "revoke", "--from", "patient1", "patient3"), "accounts", "no such guardian")
}

func TestGovSetParam(t *testing.T) {
	const param = "gov.voting_period_seconds"
	var res api.TxResult
	okJSON(t, &res, "gov", "propose", "set-param", "--from", "hospital-admin", param, "3600", "--reason", "shorter votes")
	var id string
	for _, e := range res.Events {
		if e.Type == "proposal_created" {
			id = e.Attrs["id"]
		}
	}
	if id == "" {
		t.Fatalf("no proposal_created event: %+v", res)
	}

	out := ok(t, "gov", "vote", "--from", "lab-admin", id, "yes")
	wantContains(t, out, "voted yes on proposal "+id, "open for votes")
	wantContains(t, fails(t, "gov", "vote", "--from", "lab-admin", id, "yes"), "gov", "already voted")
	ok(t, "gov", "vote", "--from", "pharmacy-admin", id, "yes")
	ok(t, "gov", "vote", "--from", "manufacturer-admin", id, "yes")
	// The fifth yes of seven organizations passes it.
	wantContains(t, ok(t, "gov", "vote", "--from", "distributor-admin", id, "yes"), "proposal passed")

	wantContains(t, ok(t, "gov", "proposal", id), "status:", "passed", "param:", param, "value:", "3600", "shorter votes", "5 yes, 0 no")
	wantContains(t, ok(t, "gov", "proposals"), "set_param", "passed", "5/0")
	out = ok(t, "params")
	found := false
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == param {
			found = f[1] == "3600"
		}
	}
	if !found {
		t.Errorf("params does not show %s = 3600:\n%s", param, out)
	}
	wantContains(t, fails(t, "gov", "vote", "--from", "sponsor-admin", id, "yes"), "no longer open")
}

func TestGovPropose(t *testing.T) {
	hexKey := strings.TrimSpace(ok(t, "show-validator"))
	var vals struct {
		Validators []api.ValidatorView `json:"validators"`
	}
	okJSON(t, &vals, "validators")
	if len(vals.Validators) != 1 || vals.Validators[0].PubKey != hexKey {
		t.Fatalf("show-validator %s, validators %+v", hexKey, vals.Validators)
	}
	wantContains(t, ok(t, "validators"), hexKey, "dev-hospital")
	var sv map[string]string
	okJSON(t, &sv, "show-validator")

	// A proposal that would leave no validator is created, then fails only
	// when it passes; here it stays open.
	out := ok(t, "gov", "propose", "remove-validator", "--from", "regulator-admin", "--pub-key", sv["pub_key_base64"])
	wantContains(t, out, "created proposal", "(remove_validator)", "open for votes")

	ok(t, "keys", "add", "clinic-admin")
	out = ok(t, "gov", "propose", "add-member", "--from", "sponsor-admin", "--org-id", "new-clinic",
		"--name", "New Clinic", "--type", "clinic", "--admin-key", "clinic-admin")
	wantContains(t, out, "created proposal", "(add_member)")
	ok(t, "gov", "propose", "remove-member", "--from", "sponsor-admin", "dev-lab")
	ok(t, "gov", "propose", "add-validator", "--from", "sponsor-admin", "--pub-key", strings.Repeat("ab", 32), "--power", "5", "--org", "dev-sponsor")

	wantContains(t, fails(t, "gov", "propose", "add-validator", "--from", "sponsor-admin", "--pub-key", "zz", "--org", "dev-sponsor"), "consensus key")
	wantContains(t, fails(t, "gov", "propose", "set-param", "--from", "doctor1", "gov.voting_period_seconds", "600"), "gov", "not an admin")
	wantContains(t, fails(t, "gov", "vote", "--from", "lab-admin", "1", "maybe"), "yes or no")
	wantContains(t, fails(t, "gov", "proposal", "999"), "no proposal 999")
}

func TestOrgs(t *testing.T) {
	out := ok(t, "org", "list")
	for _, o := range devnet.Orgs {
		wantContains(t, out, o.ID)
	}
	wantContains(t, ok(t, "org", "show", "dev-pharmacy"), "pharmacy", "admin", "practitioner")
	wantContains(t, fails(t, "org", "show", "nowhere"), `no organization "nowhere"`)
}

func TestBlockAndTx(t *testing.T) {
	wantContains(t, ok(t, "block", "1"), "height:", "1", "hash:", "proposer:")
	wantContains(t, ok(t, "block"), "height:")

	ok(t, "keys", "add", "erin")
	var res api.TxResult
	okJSON(t, &res, "account", "register", "--from", "erin")
	if !res.Committed || res.Hash == "" || res.Height < 1 {
		t.Fatalf("tx result: %+v", res)
	}
	out := eventually(t, "tx", res.Hash)
	wantContains(t, out, res.Hash, "accounts/register_patient", "result:", "ok", "account_registered")
	wantContains(t, ok(t, "block", fmt.Sprint(res.Height)), res.Hash)
	wantContains(t, fails(t, "tx", "1234"), "64 hex digits")
	wantContains(t, fails(t, "block", "zero"), "positive integer")
}

func TestAccountArgumentErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key name", []string{"account", "show", "nosuchkey"}, `no key named "nosuchkey"`},
		{"invalid address", []string{"account", "show", "mc1234abcd"}, `invalid address "mc1234abcd"`},
		{"neither name nor address", []string{"account", "show", "Not A Key"}, "neither a key name nor an address"},
		{"unknown --from", []string{"account", "register", "--from", "nosuchkey"}, `--from: no key named "nosuchkey"`},
		{"--from address without a key", []string{"guardian", "set", "--from", "mc" + strings.Repeat("0", 40), "patient1"}, "no key for address"},
		{"missing --from", []string{"guardian", "set", "patient1"}, "--from is required"},
		{"guardian by unknown name", []string{"guardian", "set", "--from", "patient1", "mc-friend"}, `no key named "mc-friend"`},
		{"guardian by short address", []string{"guardian", "set", "--from", "patient1", "mc12ab"}, `invalid address "mc12ab"`},
		{"guardian by bad address", []string{"guardian", "set", "--from", "patient1", "MC12"}, "neither a key name nor an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, fails(t, tt.args...), tt.want)
		})
	}
}

func TestNodeUnreachable(t *testing.T) {
	home := devNode(t)
	var out, errb bytes.Buffer
	e := devEnv()
	e.Stdout, e.Stderr = &out, &errb
	code := cli.Execute(e, []string{"--home", home, "--node", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), "status"})
	if code == 0 || !strings.Contains(errb.String(), "Error:") {
		t.Errorf("unreachable node: exit %d, stderr %s", code, errb.String())
	}
}
