package e2erecords

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/testnet"
)

// TestMultiProcess: on four validators run as separate processes, a record
// written through node0 (its ciphertext uploaded there) is read by a grantee
// through node2, which fetches the ciphertext from its peers, checks it
// against the hash on chain and keeps a copy; the read is in the trail once,
// reported by node2's organization. Erased, the ciphertext disappears from
// every node that held it. No node logs the plaintext.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a network of four node processes; skipped with -short")
	}
	t.Parallel()
	nw := testnet.Start(t, testnet.Options{Validators: 4, TimeoutCommit: 200 * time.Millisecond})
	n0, n2 := nw.Nodes[0], nw.Nodes[2]
	mc := medchain{home: n0.Home, node: n0.API()}
	doc1 := mc.addr(t, "doctor1")
	file, want := mc.fixtureFor(t, "observation-hba1c-zorblax.json", "patient1")

	id := mc.addRecord(t, "patient1", "patient1", file)
	mc.grant(t, "--from", "patient1", "--to", "doctor1", "--actions", "read", "--types", "Observation")
	hash := mc.show(t, "patient1", id).Versions[0].ContentHash
	held := func() []bool {
		var out []bool
		for _, n := range nw.Nodes {
			out = append(out, fileExists(t, blobPath(n.Home, hash)))
		}
		return out
	}
	if h := held(); fmt.Sprint(h) != "[true false false false]" {
		t.Fatalf("after the upload through node0, nodes holding the ciphertext: %v; want node0 only", h)
	}

	// node2 decides from its own state: wait until it has the consent and the
	// key shared under it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, mustHeight(t, n0), n2); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, func() error {
		var v api.AccessView
		if err := n2.Client().As(mc.key(t, "doctor1"), "").Get(t.Context(), "/v1/records/"+id+"/access?reader="+doc1, &v); err != nil {
			return err
		}
		if !v.Allowed {
			return fmt.Errorf("node2 at height %d: doctor1 may not read yet: %s", v.Height, v.Reason)
		}
		return nil
	})
	if got := mc.at(n2.API()).read(t, "doctor1", id); !bytes.Equal(got, want) {
		t.Fatalf("doctor1 read through node2 %d bytes that differ from the %d written", len(got), len(want))
	}
	if h := held(); fmt.Sprint(h) != "[true false true false]" {
		t.Errorf("after the read through node2, nodes holding the ciphertext: %v; want node0 and node2", h)
	}
	stored, err := os.ReadFile(blobPath(n2.Home, hash))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(stored); hex.EncodeToString(sum[:]) != hash {
		t.Errorf("node2 stored a copy whose SHA-256 is %x, not the %s on chain", sum, hash)
	}

	// One read, one trail entry: node2 reports it; node0, which served the
	// forwarded request, does not report it again.
	node2Org := devnet.Orgs[2].ID
	read := eventMatch{accessor: doc1, record: id, served: true, basis: "consent"}
	mc.at(n2.API()).waitAudit(t, "patient1", hasAll(read))
	if err := testnet.WaitHeight(ctx, mustHeight(t, n2)+4, n2); err != nil { // later batches have committed
		t.Fatal(err)
	}
	evs := mc.at(n2.API()).audit(t, "patient1")
	if n := read.count(evs); n != 1 {
		t.Errorf("%d trail entries for doctor1's one read, want 1:\n%s", n, eventsString(evs))
	}
	for _, e := range evs {
		if read.matches(e) && e.Node != node2Org {
			t.Errorf("the read through node2 was reported by %q, want %q", e.Node, node2Org)
		}
	}

	// Erased through another node, the ciphertext goes from every node.
	wantContains(t, "record erase", mc.at(nw.Nodes[1].API()).ok(t, "record", "erase", "--from", "patient1", id), "erased")
	poll(t, 30*time.Second, func() error {
		if h := held(); fmt.Sprint(h) != "[false false false false]" {
			return fmt.Errorf("nodes still holding the ciphertext of the erased record: %v", h)
		}
		return nil
	})
	r := mc.at(n2.API()).fails(t, "record", "get", "--from", "doctor1", id)
	wantContains(t, "record get after erasure", r.stderr, "gone", "code 7/records", "HTTP 410")
	if n := read.count(mc.at(n2.API()).audit(t, "patient1")); n != 1 {
		t.Errorf("after the erasure the trail holds %d entries of the read, want 1", n)
	}

	for _, n := range nw.Nodes {
		logs, err := os.ReadFile(n.Log)
		if err != nil {
			t.Fatal(err)
		}
		if hits := find(plaintextSecrets(), logs); len(hits) > 0 {
			t.Errorf("%s's log (%s) holds %s", n.Name, n.Log, strings.Join(hits, ", "))
		}
	}
}

func mustHeight(t *testing.T, n *testnet.Node) int64 {
	t.Helper()
	h, err := n.Height(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return h
}
