package e2erecords

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/cli"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/internal/ports"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// emergencySeconds is the genesis length of an emergency access on the
// in-process network: the shortest the parameter allows.
const emergencySeconds = 10

// localNet is a network of nodes running inside the test process.
type localNet struct {
	chainID string
	homes   []string
	nodes   []*node.Node
	apis    []string // API base URLs
	rpcs    []string // CometBFT RPC base URLs
	logs    *syncBuffer
}

// syncBuffer collects the nodes' log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// startLocal writes a development network of n validators and runs every
// node in this process, logging at debug level into one buffer. The nodes
// stop when the test ends. A network that lost one of its ports to another
// process between the check and the bind is written again on other ports.
func startLocal(t *testing.T, n int, params map[string]uint64) *localNet {
	t.Helper()
	for attempt := 1; ; attempt++ {
		nw, err := tryStartLocal(t, n, params)
		if err == nil {
			return nw
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("%v; trying other ports", err)
	}
}

func tryStartLocal(t *testing.T, n int, params map[string]uint64) (*localNet, error) {
	t.Helper()
	dir := tempDir(t)
	base := config.Default()
	base.Consensus.TimeoutCommit = config.Duration(100 * time.Millisecond)
	base.Consensus.TimeoutPropose = config.Duration(500 * time.Millisecond)
	base.LogLevel = "debug"
	ports := freePortBase(t, n)
	nw := &localNet{chainID: "e2e-records", logs: &syncBuffer{}}
	for k := range n {
		nw.homes = append(nw.homes, filepath.Join(dir, fmt.Sprintf("node%d", k)))
	}
	_, err := devnet.Write(devnet.Options{
		ChainID: nw.chainID, Validators: n, Homes: nw.homes,
		P2PBase: ports, RPCBase: ports + 1, APIBase: ports + 2, PortStep: 10,
		Base: base, Light: true, Params: params,
	})
	if err != nil {
		return nil, err
	}
	stop := func() {
		for i := len(nw.nodes) - 1; i >= 0; i-- {
			if err := nw.nodes[i].Stop(); err != nil {
				t.Errorf("stop node%d: %v", i, err)
			}
		}
	}
	for k, home := range nw.homes {
		cfg, err := config.Load(home)
		if err != nil {
			stop()
			return nil, err
		}
		lg := slog.New(slog.NewTextHandler(nw.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", k)
		nd, err := node.New(home, cfg, lg)
		if err != nil {
			stop()
			return nil, fmt.Errorf("node%d: %w", k, err)
		}
		nw.nodes = append(nw.nodes, nd)
		nw.apis = append(nw.apis, "http://"+cfg.API.Listen)
		nw.rpcs = append(nw.rpcs, "http://"+strings.TrimPrefix(cfg.RPC.Listen, "tcp://"))
	}
	for k, nd := range nw.nodes {
		if err := nd.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start node%d: %w", k, err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- warnings and errors the nodes logged ----\n%s", nw.problems(60))
		}
		if p := os.Getenv("E2ERECORDS_LOG"); p != "" { // debugging: keep the full log
			_ = os.WriteFile(p, nw.logs.Bytes(), 0o600)
		}
		stop()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, a := range nw.apis {
		if _, err := client.New(a).WaitHeight(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	return nw, nil
}

// tempDir is a folder removed when the test ends. Unlike t.TempDir it
// tolerates files written while it is being removed: CometBFT's address book
// saves config/addrbook.json from a goroutine that may still run after the
// node's Stop has returned.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2erecords-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; ; i++ {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if i == 50 {
				t.Errorf("remove %s: %v", dir, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

// problems returns the last n log lines at level WARN or ERROR.
func (nw *localNet) problems(n int) string {
	var out []string
	for _, line := range strings.Split(string(nw.logs.Bytes()), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// sync waits until every node has reached the height node0 is at: a user
// who switches nodes right after a commit would otherwise read the state of
// one block before on the slower node.
func (nw *localNet) sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := client.New(nw.apis[0]).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range nw.apis[1:] {
		if _, err := client.New(a).WaitHeight(ctx, st.Height); err != nil {
			t.Fatal(err)
		}
	}
}

// freePortBase finds a base such that the ports devnet gives n nodes (P2P
// base+10k, RPC base+1+10k, API base+2+k) are free, below the ephemeral range.
func freePortBase(t *testing.T, n int) int {
	t.Helper()
	var offs []int
	for k := range n {
		offs = append(offs, 10*k, 10*k+1, 2+k)
	}
	base, err := ports.Reserve(offs)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// medchain runs the command line with a keystore home and a node.
type medchain struct {
	home string // keystore (and node) home
	node string // API base URL
}

// at is the same user talking to another node (or a proxy).
func (m medchain) at(api string) medchain { return medchain{home: m.home, node: api} }

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run executes `medchain --home H --node N args...` with the development
// passphrase in the environment.
func (m medchain) run(t testing.TB, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == cli.PassphraseEnv {
				return devnet.DevPassphrase
			}
			return ""
		},
	}
	code := cli.Execute(e, append([]string{"--home", m.home, "--node", m.node}, args...))
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs a command that must succeed and returns its stdout.
func (m medchain) ok(t testing.TB, args ...string) string {
	t.Helper()
	r := m.run(t, args...)
	if r.code != 0 {
		t.Fatalf("medchain %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs a command that must fail and returns its result.
func (m medchain) fails(t testing.TB, args ...string) result {
	t.Helper()
	r := m.run(t, args...)
	if r.code == 0 {
		t.Fatalf("medchain %s succeeded, want a refusal: %v", strings.Join(args, " "), r)
	}
	return r
}

// okJSON runs a command with --json and decodes its output.
func (m medchain) okJSON(t testing.TB, out any, args ...string) {
	t.Helper()
	s := m.ok(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("medchain %s --json: %v\n%s", strings.Join(args, " "), err, s)
	}
}

func (m medchain) client() *client.Client { return client.New(m.node) }

// firstLine is a command's first line of output (an id).
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// addRecord runs `record add` and returns the record id it prints.
func (m medchain) addRecord(t testing.TB, author, patient, file string) string {
	t.Helper()
	id := firstLine(m.ok(t, "record", "add", "--from", author, "--patient", patient, file))
	if len(id) != 32 {
		t.Fatalf("record add printed %q, want a record id of 32 hex digits", id)
	}
	return id
}

// grant runs `consent grant` and returns the consent id it prints.
func (m medchain) grant(t testing.TB, args ...string) string {
	t.Helper()
	id := firstLine(m.ok(t, append([]string{"consent", "grant"}, args...)...))
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		t.Fatalf("consent grant printed %q, want a consent id", id)
	}
	return id
}

// show returns a record's on-chain metadata (`record show --json`), read
// as the named account (reads of patient data are signed).
func (m medchain) show(t testing.TB, as, id string) api.RecordView {
	t.Helper()
	var v api.RecordView
	m.okJSON(t, &v, "record", "show", "--from", as, id)
	return v
}

// read runs `record get --out` and returns the bytes written.
func (m medchain) read(t testing.TB, reader, id string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "read.json")
	m.ok(t, "record", "get", "--from", reader, id, "--out", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addr is the address of a key in the home's keystore.
func (m medchain) addr(t testing.TB, name string) string {
	t.Helper()
	info, err := keystore.Open(config.KeysDir(m.home)).Info(name)
	if err != nil {
		t.Fatal(err)
	}
	return info.Address.String()
}

// key loads a key from the home's keystore.
// keyOf loads the local key of an address.
func (m medchain) keyOf(t testing.TB, addr string) *crypto.PrivKey {
	t.Helper()
	info, err := keystore.Open(config.KeysDir(m.home)).FindByAddress(mustAddress(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	return m.key(t, info.Name)
}

func (m medchain) key(t testing.TB, name string) *crypto.PrivKey {
	t.Helper()
	k, err := keystore.Open(config.KeysDir(m.home)).Load(name, devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newPatient writes a fresh key named name (cheap KDF) into the keystore and
// registers it as a patient.
func (m medchain) newPatient(t testing.TB, name string) string {
	t.Helper()
	k, err := crypto.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.Open(config.KeysDir(m.home))
	ks.Params = keystore.LightParams()
	if err := ks.Import(name, devnet.DevPassphrase, k); err != nil {
		t.Fatal(err)
	}
	m.ok(t, "account", "register", "--from", name)
	return k.Address().String()
}

// audit is the patient's trail (`audit --from PATIENT --json`).
func (m medchain) audit(t testing.TB, patient string) []api.EventView {
	t.Helper()
	var out struct {
		Events []api.EventView `json:"events"`
	}
	m.okJSON(t, &out, "audit", "--from", patient)
	return out.Events
}

// waitAudit polls the patient's trail until want finds what it looks for
// (nil), and returns the trail. The gateway's auditor reports accesses in
// batches every 250 ms; they appear once a block commits the batch.
func (m medchain) waitAudit(t testing.TB, patient string, want func([]api.EventView) error) []api.EventView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := m.audit(t, patient)
		err := want(evs)
		if err == nil {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit trail of %s: %v\ntrail: %s", patient, err, eventsString(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func eventsString(evs []api.EventView) string {
	b, _ := json.MarshalIndent(evs, "", "  ")
	return string(b)
}

// eventMatch selects trail entries.
type eventMatch struct {
	accessor, record string
	served           bool
	reasonPrefix     string // refusals: "consent/17"
	basis            string // served reads, when set
	consentID        string // when set
}

func (e eventMatch) String() string {
	if e.served {
		return fmt.Sprintf("a read of %s served to %s", e.record, e.accessor)
	}
	return fmt.Sprintf("a refused read of %s by %s (%s)", e.record, e.accessor, e.reasonPrefix)
}

func (e eventMatch) matches(v api.EventView) bool {
	return v.Accessor == e.accessor && v.Record == e.record && v.Served == e.served &&
		(e.served || strings.HasPrefix(v.Reason, e.reasonPrefix+":")) &&
		(e.basis == "" || v.Basis == e.basis) &&
		(e.consentID == "" || jsonID(v.ConsentID) == e.consentID)
}

func jsonID(id uint64) string { return strconv.FormatUint(id, 10) }

// count counts the events matching.
func (e eventMatch) count(evs []api.EventView) int {
	n := 0
	for _, v := range evs {
		if e.matches(v) {
			n++
		}
	}
	return n
}

// hasAll reports the first match that has no event.
func hasAll(ms ...eventMatch) func([]api.EventView) error {
	return func(evs []api.EventView) error {
		for _, m := range ms {
			if m.count(evs) == 0 {
				return fmt.Errorf("no event for %s", m)
			}
		}
		return nil
	}
}

// wantContains checks that s contains every sub.
func wantContains(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s: missing %q in:\n%s", what, sub, s)
		}
	}
}

// fixture returns a file of testdata and its bytes.
func fixture(t testing.TB, name string) (string, []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// fixtureFor returns a copy of a testdata file whose patient reference
// names patient (a key name or address) as "Patient/mc…", and its bytes: a
// record must name the patient it is filed under (internal/fhirsubject).
func (m medchain) fixtureFor(t testing.TB, name, patient string) (string, []byte) {
	t.Helper()
	_, b := fixture(t, name)
	a := patient
	if !strings.HasPrefix(a, "mc") || len(a) != 42 {
		a = m.addr(t, patient)
	}
	b = regexp.MustCompile(`"Patient/[a-z]+-[0-9]+"`).ReplaceAll(b, []byte(`"Patient/`+a+`"`))
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// blobPath is where a node's local blob store keeps a ciphertext.
func blobPath(home, hash string) string {
	return filepath.Join(home, "data", "blobs", hash[:2], hash)
}

func fileExists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err == nil {
		return true
	}
	if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return false
}

// blobFiles lists the ciphertext files of a node's blob store.
func blobFiles(t testing.TB, home string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(home, "data", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// poll calls fn until it returns nil, failing the test after d.
func poll(t testing.TB, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBlockTime waits until the node has committed a block whose time is at
// least unix, and then one more block, so that the state the gateway decides
// from is at or past that time.
func waitBlockTime(t testing.TB, c *client.Client, unix int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LatestBlockTime.Unix() >= unix {
			if _, err := c.WaitHeight(ctx, st.Height+1); err != nil {
				t.Fatal(err)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("block time %s never reached %s", st.LatestBlockTime, time.Unix(unix, 0))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// signed sends a request signed with key, as the client does for blobs and
// keys, and returns the status and body.
func signed(t testing.TB, base, chainID string, key *crypto.PrivKey, method, path string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if err := reqsig.Sign(req, key, chainID, time.Now(), time.Minute, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// wantAPIError checks an error response's status, code and codespace.
func wantAPIError(t testing.TB, what string, status int, body []byte, wantStatus int, wantCode uint32, wantSpace string) {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || status != wantStatus || e.Code != wantCode || e.Codespace != wantSpace {
		t.Errorf("%s: HTTP %d %.200q, want HTTP %d with code %d/%s", what, status, body, wantStatus, wantCode, wantSpace)
	}
}

// recorder is a reverse proxy to a node that records every exchange, to
// see what the command line asked and what the node answered.
type recorder struct {
	url   string
	mu    sync.Mutex
	calls []call
}

type call struct {
	Method, Path string
	Status       int
	ContentType  string
	Body         []byte
}

func newRecorder(t testing.TB, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.calls = append(r.calls, call{Method: resp.Request.Method, Path: resp.Request.URL.Path, Status: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Body: b})
		r.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// taken returns the exchanges so far and forgets them.
func (r *recorder) taken() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}
