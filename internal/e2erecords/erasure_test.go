package e2erecords

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
)

// testErasure: after the patient erases a record, its ciphertext is deleted
// from every node that held it, reads answer "gone", `record show` shows the
// tombstone with the hashes, and the trail of earlier reads remains.
func testErasure(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	const who = "erasure-patient"
	mc.newPatient(t, who)
	doc1 := mc.addr(t, "doctor1")
	file, want := mc.fixtureFor(t, "observation-glucose.json", who)
	id := mc.addRecord(t, who, who, file) // uploaded to node0
	mc.grant(t, "--from", who, "--to", "doctor1", "--actions", "read")
	hash := mc.show(t, who, id).Versions[0].ContentHash

	// Reading through node1 makes it fetch the ciphertext from node0 and keep it.
	nw.sync(t)
	if !fileExists(t, blobPath(nw.homes[0], hash)) || fileExists(t, blobPath(nw.homes[1], hash)) {
		t.Fatalf("before any read through node1, the ciphertext should be on node0 only")
	}
	if got := mc.at(nw.apis[1]).read(t, "doctor1", id); !bytes.Equal(got, want) {
		t.Fatalf("doctor1 read through node1 %d bytes that differ from the %d written", len(got), len(want))
	}
	for k, home := range nw.homes {
		if !fileExists(t, blobPath(home, hash)) {
			t.Fatalf("node%d holds no copy of the ciphertext before the erasure", k)
		}
	}
	trail := mc.waitAudit(t, who, hasAll(eventMatch{accessor: doc1, record: id, served: true}))

	wantContains(t, "record erase", mc.ok(t, "record", "erase", "--from", who, id), "erased")

	poll(t, 20*time.Second, func() error {
		for k, home := range nw.homes {
			if fileExists(t, blobPath(home, hash)) {
				return fmt.Errorf("node%d still holds the ciphertext of the erased record", k)
			}
		}
		return nil
	})

	for k := range nw.apis {
		for _, reader := range []string{who, "doctor1"} {
			r := mc.at(nw.apis[k]).fails(t, "record", "get", "--from", reader, id)
			wantContains(t, fmt.Sprintf("record get by %s through node%d", reader, k), r.stderr, "gone", "erased", "code 7/records", "HTTP 410")
		}
		// The gateway, asked directly, answers gone too.
		for _, path := range []string{"/v1/blobs/" + hash, "/v1/records/" + id + "/key"} {
			status, body := signed(t, nw.apis[k], nw.chainID, mc.key(t, who), http.MethodGet, path, nil)
			wantAPIError(t, fmt.Sprintf("GET %s on node%d", path, k), status, body, http.StatusGone, 4, "gateway")
		}
	}

	show := mc.ok(t, "record", "show", "--from", who, id)
	wantContains(t, "record show", show, "erased", "ciphertext deleted; hashes and trail remain", "sha256 "+hash)
	v := mc.show(t, who, id)
	if v.Erased == nil || len(v.Versions) != 1 || v.Versions[0].ContentHash != hash || len(v.Versions[0].Keys) != 0 {
		t.Errorf("record show --json: %+v; want a tombstone with the hash and no wrapped keys", v)
	}
	wantContains(t, "record list", mc.ok(t, "record", "list", "--patient", who), id, "erased")

	after := mc.audit(t, who)
	for _, e := range trail {
		if !containsEvent(after, e) {
			t.Errorf("trail entry %d (%s by %s) is gone after the erasure", e.Seq, e.Record, e.Accessor)
		}
	}
	wantContains(t, "erasing again", mc.fails(t, "record", "erase", "--from", who, id).stderr, "code 7/records")
}

func containsEvent(evs []api.EventView, e api.EventView) bool {
	for _, v := range evs {
		if v.Seq == e.Seq && v.Accessor == e.Accessor && v.Record == e.Record && v.Served == e.Served && v.Time.Equal(e.Time) {
			return true
		}
	}
	return false
}
