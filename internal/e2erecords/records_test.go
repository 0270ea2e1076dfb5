package e2erecords

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
)

// TestRecords runs the in-process scenarios on one two-validator network.
// The subtests share the chain; each uses its own patient (or a development
// patient no other subtest touches), so each can run alone with -run.
func TestRecords(t *testing.T) {
	t.Parallel() // overlaps with the multi-process network of TestMultiProcess
	nw := startLocal(t, 2, map[string]uint64{"consent.emergency_access_seconds": emergencySeconds})

	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, nw) })
	t.Run("Refusals", func(t *testing.T) { testRefusals(t, nw) })
	t.Run("Erasure", func(t *testing.T) { testErasure(t, nw) })
	t.Run("Timed", func(t *testing.T) {
		// Both wait for block time to pass a deadline: run them side by side.
		// Their signers differ, so their sequences cannot collide.
		t.Run("RevokeAndExpiry", func(t *testing.T) { t.Parallel(); testRevokeAndExpiry(t, nw) })
		t.Run("Emergency", func(t *testing.T) { t.Parallel(); testEmergency(t, nw) })
	})
	t.Run("AuditTimeFilter", func(t *testing.T) { testAuditTimeFilter(t, nw) })
	t.Run("FHIRExports", func(t *testing.T) { testFHIRExports(t, nw) })
	// Last, so that it scans the blocks and state every other subtest wrote.
	t.Run("NoPlaintextOnChain", func(t *testing.T) { testNoPlaintext(t, nw) })
}

// cli is the command line of a user whose keys are in node0's home, talking
// to node k.
func (nw *localNet) cli(k int) medchain { return medchain{home: nw.homes[0], node: nw.apis[k]} }

// testRoundTrip: a lab writes an Observation under the patient's write
// consent; the patient and a doctor with a read consent get exactly the same
// bytes; a doctor without consent gets a consent/17 refusal and no
// ciphertext; the trail shows the reads served and the one refused.
func testRoundTrip(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	patient, lab, doc1, doc2 := mc.addr(t, "patient1"), mc.addr(t, "labtech1"), mc.addr(t, "doctor1"), mc.addr(t, "doctor2")
	file, want := mc.fixtureFor(t, "observation-glucose.json", "patient1")

	mc.grant(t, "--from", "patient1", "--to", "labtech1", "--actions", "write", "--types", "Observation")
	id := mc.addRecord(t, "labtech1", "patient1", file)

	rec := mc.show(t, "patient1", id)
	if rec.Patient != patient || rec.Type != "Observation" || len(rec.Versions) != 1 || rec.Versions[0].Author != lab {
		t.Fatalf("record %s on chain: %+v; want an Observation of %s by %s, one version", id, rec, patient, lab)
	}
	hash := rec.Versions[0].ContentHash
	// The writer has no read consent: the data key is wrapped for the patient alone.
	if ks := rec.Versions[0].Keys; len(ks) != 1 || ks[0].Recipient.Address != patient {
		t.Errorf("keys of the new record: %+v, want the patient's only", ks)
	}

	// The patient reads back exactly the bytes the lab wrote: to stdout, to a file.
	if got := mc.ok(t, "record", "get", "--from", "patient1", id); got != string(want) {
		t.Errorf("patient1 record get printed:\n%s\nwant:\n%s", got, want)
	}
	if got := mc.read(t, "patient1", id); !bytes.Equal(got, want) {
		t.Errorf("patient1 record get --out wrote %d bytes that differ from the %d written", len(got), len(want))
	}

	// A read consent shares the existing record's key with the doctor.
	consentID := mc.grant(t, "--from", "patient1", "--to", "doctor1", "--actions", "read", "--types", "Observation")
	if got := mc.read(t, "doctor1", id); !bytes.Equal(got, want) {
		t.Errorf("doctor1 read %d bytes that differ from the %d written", len(got), len(want))
	}
	// The same through the Go client; and the consent makes doctor1 a key
	// holder of the patient's future Observations, not of other types.
	c := mc.client()
	rid, err := api.ParseRecordID(id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.ReadRecord(t.Context(), mc.key(t, "doctor1"), nw.chainID, rid, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("client ReadRecord by doctor1: %d bytes, %v; want the %d written", len(got), err, len(want))
	}
	for typ, holders := range map[string]string{"Observation": patient + " " + doc1, "Condition": patient} {
		hs, err := c.As(mc.key(t, "patient1"), nw.chainID).KeyHolders(t.Context(), mustAddress(t, patient), typ, rid)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Party.String())
		}
		slices.Sort(got)
		wantHolders := strings.Fields(holders)
		slices.Sort(wantHolders)
		if !slices.Equal(got, wantHolders) {
			t.Errorf("key holders of a new %s of patient1: %v, want %v", typ, got, wantHolders)
		}
	}

	// Without consent: refused, and no ciphertext leaves the node.
	rc := newRecorder(t, nw.apis[0])
	out := filepath.Join(t.TempDir(), "doctor2.json")
	r := mc.at(rc.url).fails(t, "record", "get", "--from", "doctor2", id, "--out", out)
	wantContains(t, "doctor2's refusal", r.stderr, "no consent covers this access", "code 17/consent", "HTTP 403")
	if fileExists(t, out) {
		t.Errorf("a refused read wrote %s", out)
	}
	ciphertext := readFile(t, blobPath(nw.homes[0], hash))
	// The record's metadata is not doctor2's to see (docs/api.md): the
	// client then asks the gateway for the key, which refuses under consent
	// and records the attempt.
	var refusals int
	for _, c := range rc.taken() {
		switch {
		case c.Path == "/v1/blobs/"+hash || strings.HasSuffix(c.Path, "/key"):
			refusals++
			wantAPIError(t, c.Method+" "+c.Path+" for doctor2", c.Status, c.Body, 403, 17, "consent")
			if c.ContentType != "application/json" || bytes.Contains(c.Body, ciphertext[:32]) {
				t.Errorf("the refusal carried %q content: %q", c.ContentType, c.Body)
			}
		case c.Path == "/v1/records/"+id:
			wantAPIError(t, "GET /v1/records/{id} for doctor2", c.Status, c.Body, 403, 9, "api")
		}
	}
	if refusals != 1 {
		t.Errorf("doctor2's record get made %d blob or key requests, want 1 (refused)", refusals)
	}

	// The trail shows both attempts, the served reads with their basis.
	mc.waitAudit(t, "patient1", hasAll(
		eventMatch{accessor: patient, record: id, served: true, basis: "patient"},
		eventMatch{accessor: doc1, record: id, served: true, basis: "consent", consentID: consentID},
		eventMatch{accessor: doc2, record: id, reasonPrefix: "consent/17"},
	))
	wantContains(t, "audit", mc.ok(t, "audit", "--from", "patient1"), doc1+" (doctor1)", doc2+" (doctor2)", "REFUSED: consent/17")
}

// testRevokeAndExpiry: a revoked consent refuses from a later block on
// (consent/19); a consent with an end time allows reads before it and
// refuses them (consent/18) once the block time passes it.
func testRevokeAndExpiry(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	doc1, doc2 := mc.addr(t, "doctor1"), mc.addr(t, "doctor2")
	file, want := mc.fixtureFor(t, "observation-glucose.json", "patient2")
	id := mc.addRecord(t, "patient2", "patient2", file)

	revoked := mc.grant(t, "--from", "patient2", "--to", "doctor1", "--actions", "read", "--types", "Observation")
	if got := mc.read(t, "doctor1", id); !bytes.Equal(got, want) {
		t.Fatalf("doctor1 read %d bytes that differ from the %d written", len(got), len(want))
	}
	var res api.TxResult
	mc.okJSON(t, &res, "consent", "revoke", "--from", "patient2", revoked)
	if !res.Committed || res.Code != 0 {
		t.Fatalf("revoke: %+v", res)
	}
	if _, err := mc.client().WaitHeight(t.Context(), res.Height+1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "revoked.json")
	r := mc.fails(t, "record", "get", "--from", "doctor1", id, "--out", out)
	wantContains(t, "read after revocation", r.stderr, "revoked", "code 19/consent", "HTTP 403")
	if fileExists(t, out) {
		t.Errorf("a refused read wrote %s", out)
	}

	// A consent that ends a few seconds from now.
	timed := mc.grant(t, "--from", "patient2", "--to", "doctor2", "--actions", "read", "--types", "Observation", "--until", "10s")
	var cv api.ConsentView
	if err := json.Unmarshal([]byte(mc.ok(t, "consent", "show", "--from", "patient2", timed)), &cv); err != nil || cv.Until == nil {
		t.Fatalf("consent show %s: %+v %v", timed, cv, err)
	}
	if got := mc.read(t, "doctor2", id); !bytes.Equal(got, want) {
		t.Errorf("doctor2 read %d bytes before the end, that differ from the %d written", len(got), len(want))
	}
	waitBlockTime(t, mc.client(), cv.Until.Unix())
	r = mc.fails(t, "record", "get", "--from", "doctor2", id, "--out", out)
	wantContains(t, "read after the end", r.stderr, "expired", "code 18/consent", "HTTP 403")
	if fileExists(t, out) {
		t.Errorf("a refused read wrote %s", out)
	}

	var cs struct {
		Consents []api.ConsentView `json:"consents"`
	}
	mc.okJSON(t, &cs, "consent", "list", "--patient", "patient2")
	status := map[string]string{}
	for _, c := range cs.Consents {
		status[jsonID(c.ID)] = c.Status
	}
	if status[revoked] != "revoked" || status[timed] != "expired" {
		t.Errorf("consent list: consent %s is %q (want revoked), %s is %q (want expired)", revoked, status[revoked], timed, status[timed])
	}

	mc.waitAudit(t, "patient2", hasAll(
		eventMatch{accessor: doc1, record: id, served: true, basis: "consent", consentID: revoked},
		eventMatch{accessor: doc1, record: id, reasonPrefix: "consent/19"},
		eventMatch{accessor: doc2, record: id, served: true, basis: "consent", consentID: timed},
		eventMatch{accessor: doc2, record: id, reasonPrefix: "consent/18"},
	))
	wantContains(t, "audit --signals", mc.ok(t, "audit", "--from", "patient2", "--signals"), "refused_expired_or_revoked")
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAuditTimeFilter: `audit --since/--until` take RFC 3339 times with any
// offset, as the help says, and select the trail entries at or after
// --since and before --until.
func testAuditTimeFilter(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	const who = "audit-filter-patient"
	patient := mc.newPatient(t, who)
	file, _ := mc.fixtureFor(t, "observation-glucose.json", who)
	id := mc.addRecord(t, who, who, file)
	self := eventMatch{accessor: patient, record: id, served: true, basis: "patient"}

	mc.read(t, who, id)
	first := mc.waitAudit(t, who, hasAll(self))[0].Time
	time.Sleep(time.Until(first.Add(1100 * time.Millisecond))) // the next read is a second later
	mc.read(t, who, id)
	evs := mc.waitAudit(t, who, func(evs []api.EventView) error {
		if n := self.count(evs); n != 2 {
			return fmt.Errorf("%d reads in the trail, want 2", n)
		}
		return nil
	})
	second := evs[1].Time
	if !second.After(first) {
		t.Fatalf("the reads were logged at %s and %s", first, second)
	}

	for _, tt := range []struct {
		name  string
		flags []string
		want  []time.Time
	}{
		{"since, east of UTC", []string{"--since", second.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)}, []time.Time{second}},
		{"until, west of UTC", []string{"--until", second.In(time.FixedZone("", -3*3600)).Format(time.RFC3339)}, []time.Time{first}},
		{"since, UTC", []string{"--since", first.UTC().Format(time.RFC3339)}, []time.Time{first, second}},
		{"until, unix seconds", []string{"--until", strconv.FormatInt(first.Unix(), 10)}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out struct {
				Events []api.EventView `json:"events"`
			}
			mc.okJSON(t, &out, append([]string{"audit", "--from", who}, tt.flags...)...)
			var got []time.Time
			for _, e := range out.Events {
				got = append(got, e.Time)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("audit %s: events at %v, want %v", strings.Join(tt.flags, " "), got, tt.want)
			}
		})
	}
}
