package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/cli"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/x/consent"
)

func devKey(t *testing.T, name string) *crypto.PrivKey {
	t.Helper()
	ks := keystore.Open(filepath.Join(devNode(t), "keys"))
	ks.Params = keystore.LightParams()
	k, err := ks.Load(name, devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRecordAddFiledUnderItsPatient: record add refuses a resource whose
// subject names another patient (subject/1) or no medchain patient at all
// (subject/2), before anything is uploaded or registered.
func TestRecordAddFiledUnderItsPatient(t *testing.T) {
	p1, p2 := devKey(t, "patient1").Address(), devKey(t, "patient2").Address()
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	own, err := devnet.DemoResource("p2-bp.json", p2)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := devnet.DemoResource("p2-bp.json", p1)
	asIs, _ := devnet.DemoResource("p2-bp.json", crypto.Address{})
	asIs = bytes.ReplaceAll(asIs, []byte("Patient/"+(crypto.Address{}).String()), []byte("Patient/patient2"))
	before := len(strings.Split(ok(t, "record", "list", "--patient", "patient2"), "\n"))

	wantContains(t, fails(t, "record", "add", "--from", "patient2", "--patient", "patient2", file("other.json", other)),
		"another patient", p1.String(), "code 1/subject")
	wantContains(t, fails(t, "record", "add", "--from", "patient2", "--patient", "patient2", file("name.json", asIs)),
		`"Patient/patient2"`, "does not name a medchain patient", "code 2/subject")
	if after := len(strings.Split(ok(t, "record", "list", "--patient", "patient2"), "\n")); after != before {
		t.Fatalf("a refused record was registered: %d list lines, before %d", after, before)
	}
	id := strings.TrimSpace(ok(t, "record", "add", "--from", "patient2", "--patient", "patient2", file("own.json", own)))
	wantContains(t, ok(t, "record", "list", "--patient", "patient2"), id)
}

// TestCommandWhilePending: a command sent while an earlier transaction of
// the same account waits in the mempool takes the next sequence and
// commits, instead of failing with tx/6; two commands at once from one
// account both commit (the second retries the sequence race).
func TestCommandWhilePending(t *testing.T) {
	k := devKey(t, "patient2")
	c := client.New(shared.api)
	ctx := context.Background()
	s, err := c.NewSigner(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	doctor1 := devKey(t, "doctor1").Address()
	// Submitted without waiting: it is in the mempool when the command runs.
	if _, err := c.SubmitRaw(ctx, s.Sign(&consent.MsgGrant{Patient: k.Address(), Grantee: consent.Account(doctor1),
		Actions: consent.ActWrite, Types: []string{"Immunization"}, Purpose: consent.PurposeTreatment}), false); err != nil {
		t.Fatal(err)
	}
	ok(t, "consent", "grant", "--from", "patient2", "--to", "doctor2", "--actions", "write", "--types", "Observation", "--purpose", "treatment")

	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, devEnv(), "consent", "grant", "--from", "patient2", "--to", "doctor2", "--actions", "write", "--types", "Condition", "--purpose", "treatment")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("command %d of two at once: %v", i, r)
		}
	}
}

// TestNextSequenceCountsTheMempool: GET /v1/accounts/{address} answers
// next_sequence past a transaction that is still in the mempool.
func TestNextSequenceCountsTheMempool(t *testing.T) {
	k := devKey(t, "patient2")
	c := client.New(shared.api)
	ctx := context.Background()
	for try := 0; ; try++ {
		s, err := c.NewSigner(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		seq := s.Seq
		if _, err := c.SubmitRaw(ctx, s.Sign(&consent.MsgGrant{Patient: k.Address(), Grantee: consent.Org("dev-lab"),
			Actions: consent.ActRead, Types: []string{"Observation"}, Purpose: consent.PurposeTreatment}), false); err != nil {
			t.Fatal(err)
		}
		a, err := c.Account(ctx, k.Address())
		if err != nil {
			t.Fatal(err)
		}
		if a.Sequence == seq { // still pending: the mempool counts
			if a.NextSequence != seq+1 {
				t.Fatalf("sequence %d with one transaction pending: next_sequence %d, want %d", a.Sequence, a.NextSequence, seq+1)
			}
			return
		}
		if try == 5 {
			t.Skip("every transaction committed before the account was read")
		}
	}
}

func TestTypesAreFHIRResourceTypes(t *testing.T) {
	wantContains(t, fails(t, "consent", "grant", "--from", "patient2", "--to", "doctor2", "--actions", "read", "--types", "observation", "--purpose", "treatment"),
		`"observation" is not a FHIR R4 resource type`, "did you mean Observation?")
	wantContains(t, fails(t, "consent", "grant", "--from", "patient2", "--to", "doctor2", "--actions", "read", "--types", "Observation,Labs", "--purpose", "treatment"),
		`"Labs" is not a FHIR R4 resource type`)
	wantContains(t, fails(t, "record", "list", "--patient", "patient2", "--type", "Lab"), `"Lab" is not a FHIR R4 resource type`)
}

// syncBuffer is a bytes.Buffer safe for a node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevReadyAfterDemoStopsCleanly: medchain dev says it is running only
// once the demo is committed, so a first command from a demo account at
// once commits; a stop (the signal's context ending) logs no ERROR line.
func TestDevReadyAfterDemoStopsCleanly(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var stdout, stderr syncBuffer
	e := devEnv()
	e.Stdout, e.Stderr = &stdout, &stderr
	root := cli.NewRootCmd(e)
	root.SetArgs([]string{"dev", "--home", home, "--api", apiAddr,
		"--rpc", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--p2p", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--timeout-commit", "100ms"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(stdout.String(), "medchain node running") {
		select {
		case err := <-done:
			t.Fatalf("dev ended: %v\n%s\n%s", err, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("dev not running after 90s:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	out := stdout.String()
	if i, j := strings.Index(out, "Demo data seeded"), strings.Index(out, "medchain node running"); i < 0 || i > j {
		t.Fatalf("running announced before the demo was seeded:\n%s", out)
	}
	wantContains(t, out, "hospital-admin sponsors patient1's fees", "medchain fees show --from patient1")
	// The README's first transaction, at once: patient1 sent demo
	// transactions a moment ago.
	var cout, cerr bytes.Buffer
	ce := devEnv()
	ce.Stdout, ce.Stderr = &cout, &cerr
	if code := cli.Execute(ce, []string{"--home", home, "--node", "http://" + apiAddr, "guardian", "set", "--from", "patient1", "doctor1"}); code != 0 {
		t.Fatalf("first command after ready: %s%s", cout.String(), cerr.String())
	}
	// The demo's trial: registered, patient1 enrolled, a batch anchored.
	cout.Reset()
	if code := cli.Execute(ce, []string{"--home", home, "--node", "http://" + apiAddr, "trial", "timeline", devnet.DemoTrial, "--from", "sponsor-admin"}); code != 0 {
		t.Fatalf("demo trial timeline: %s%s", cout.String(), cerr.String())
	}
	for _, want := range []string{"registered", "consent", "enrolled", "anchor", "#1 by dev-hospital: 2 leaves, 1 participants"} {
		if !strings.Contains(cout.String(), want) {
			t.Errorf("demo trial timeline lacks %q:\n%s", want, cout.String())
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "stopped cleanly") {
		t.Fatalf("no clean stop:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("a clean stop logged an error: %s", line)
		}
	}
}

// TestNotAMedchainNode: a command pointed at a server that is not a
// medchain node (here a web server's HTML 404) says so.
func TestNotAMedchainNode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"))
	}))
	defer srv.Close()
	for _, args := range [][]string{{"status"}, {"account", "show", "mc" + strings.Repeat("00", 20)}} {
		var out, errb bytes.Buffer
		e := devEnv()
		e.Stdout, e.Stderr = &out, &errb
		if code := cli.Execute(e, append([]string{"--home", t.TempDir(), "--node", srv.URL}, args...)); code == 0 {
			t.Fatalf("%v succeeded against a web server", args)
		}
		wantContains(t, errb.String(), "does not answer as a medchain node", "HTTP 404", "404 Not Found", "--node")
	}
}
