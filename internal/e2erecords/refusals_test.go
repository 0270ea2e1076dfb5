package e2erecords

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
)

// patientState is what a refusal must leave unchanged: the patient's records
// and consents as the API shows them, and every record and consent entry of
// the application state.
type patientState struct {
	records  string
	consents string
	state    map[string]string // hex key → hex value, prefixes consent and records
}

func mustAddress(t testing.TB, s string) crypto.Address {
	t.Helper()
	a, err := crypto.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func snapshotOf(t *testing.T, nw *localNet, mc medchain, patient string) patientState {
	t.Helper()
	c := mc.client().As(mc.keyOf(t, patient), nw.chainID) // the patient's own reads
	recs, err := c.Records(t.Context(), mustAddress(t, patient))
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i].Height = 0 // the height of the answer, not of the record
	}
	var cs struct {
		Consents []api.ConsentView `json:"consents"`
	}
	if err := c.Get(t.Context(), "/v1/patients/"+patient+"/consents", &cs); err != nil {
		t.Fatal(err)
	}
	st := patientState{records: fmt.Sprintf("%+v", recs), consents: fmt.Sprintf("%+v", cs.Consents), state: map[string]string{}}
	// The consent and records modules' keys only: other modules (staking's
	// rewards, minting, the index digest) change with every block.
	for _, r := range [][2]byte{
		{sm.PrefixConsent, sm.PrefixEmergencySeq + 1},
		{sm.PrefixRecord, sm.PrefixSessionDataKey + 1},
		{sm.PrefixConsentByPatient, sm.PrefixEmergencyByOrg + 1},
		{sm.PrefixRecordByPatient, sm.PrefixRecordByHash + 1},
	} {
		nw.nodes[0].App().Committed().Iterate([]byte{r[0]}, []byte{r[1]}, func(k, v []byte) bool {
			st.state[hex.EncodeToString(k)] = hex.EncodeToString(v)
			return true
		})
	}
	return st
}

// diff describes how b differs from a.
func (a patientState) diff(b patientState) string {
	var out []string
	if a.records != b.records {
		out = append(out, fmt.Sprintf("records were %s, now %s", a.records, b.records))
	}
	if a.consents != b.consents {
		out = append(out, fmt.Sprintf("consents were %s, now %s", a.consents, b.consents))
	}
	for k, v := range b.state {
		if old, ok := a.state[k]; !ok {
			out = append(out, "state key added: "+k)
		} else if old != v {
			out = append(out, "state key changed: "+k)
		}
	}
	for k := range a.state {
		if _, ok := b.state[k]; !ok {
			out = append(out, "state key deleted: "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// testRefusals: each way of being refused answers with its own code and
// leaves the patient's records, consents and the records and consent state
// as they were.
func testRefusals(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	const who = "refusals-patient"
	patient := mc.newPatient(t, who)
	file, _ := mc.fixtureFor(t, "observation-glucose.json", who)
	mc.addRecord(t, who, who, file)
	// doctor2 may read Observations, which is not writing them.
	mc.grant(t, "--from", who, "--to", "doctor2", "--actions", "read", "--types", "Observation")
	rc := newRecorder(t, nw.apis[0])
	chainID := nw.chainID

	tests := []struct {
		name string
		// refuse attempts something that must be refused and checks the refusal.
		refuse func(t *testing.T)
		// blobsUnchanged: no ciphertext may have been stored.
		blobsUnchanged bool
	}{
		{
			name: "invalid FHIR is refused by the client before any upload",
			refuse: func(t *testing.T) {
				bad, _ := fixture(t, "observation-missing-status.json")
				r := mc.at(rc.url).fails(t, "record", "add", "--from", who, "--patient", who, bad)
				wantContains(t, "record add of invalid FHIR", r.stderr, "invalid FHIR R4 resource", "Observation.status: missing required field")
				for _, c := range rc.taken() {
					if c.Method != http.MethodGet {
						t.Errorf("record add of invalid FHIR sent %s %s", c.Method, c.Path)
					}
				}
			},
			blobsUnchanged: true,
		},
		{
			name: "a record about another patient is refused by the client before any upload",
			refuse: func(t *testing.T) {
				other, _ := mc.fixtureFor(t, "observation-glucose.json", "patient1")
				r := mc.at(rc.url).fails(t, "record", "add", "--from", who, "--patient", who, other)
				wantContains(t, "record add about another patient", r.stderr, "another patient", mc.addr(t, "patient1"), "code 1/subject")
				for _, c := range rc.taken() {
					if c.Method != http.MethodGet {
						t.Errorf("record add about another patient sent %s %s", c.Method, c.Path)
					}
				}
			},
			blobsUnchanged: true,
		},
		{
			name: "a blob whose bytes do not match its hash is not stored",
			refuse: func(t *testing.T) {
				body := []byte("ciphertext that is not what its name says")
				other := sha256.Sum256([]byte("some other ciphertext"))
				status, resp := signed(t, nw.apis[0], chainID, mc.key(t, who), http.MethodPut, "/v1/blobs/"+hex.EncodeToString(other[:]), body)
				// Authenticated before the body is read: the signature must
				// cover the hash the path names, so a mismatched body fails as a
				// bad signature, unread.
				wantAPIError(t, "PUT of a mismatched blob", status, resp, http.StatusUnauthorized, 1, "gateway")
				sum := sha256.Sum256(body)
				for _, h := range [][32]byte{other, sum} {
					if fileExists(t, blobPath(nw.homes[0], hex.EncodeToString(h[:]))) {
						t.Errorf("the mismatched upload was stored as %x", h)
					}
				}
			},
			blobsUnchanged: true,
		},
		{
			name: "a write without write consent fails on chain",
			refuse: func(t *testing.T) {
				r := mc.fails(t, "record", "add", "--from", "doctor2", "--patient", who, file)
				wantContains(t, "record add without write consent", r.stderr, "no write consent", "code 1/records")
			},
			// The client uploads the ciphertext before the chain decides; the
			// node keeps it unreferenced (and unserved) until its janitor runs.
		},
		{
			name: "a consent granted by someone who is neither patient nor guardian fails on chain",
			refuse: func(t *testing.T) {
				r := mc.fails(t, "consent", "grant", "--from", "doctor1", "--patient", who, "--to", "doctor1", "--actions", "read")
				wantContains(t, "consent grant by a doctor", r.stderr, "neither the patient nor their guardian", "code 1/consent")
			},
			blobsUnchanged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotOf(t, nw, mc, patient)
			blobsBefore := blobFiles(t, nw.homes[0])
			tt.refuse(t)
			if d := before.diff(snapshotOf(t, nw, mc, patient)); d != "" {
				t.Errorf("the refusal changed state:\n%s", d)
			}
			blobsAfter := blobFiles(t, nw.homes[0])
			if tt.blobsUnchanged && !slices.Equal(blobsBefore, blobsAfter) {
				t.Errorf("blob store changed: %d files before, %d after", len(blobsBefore), len(blobsAfter))
			}
			// Whatever was stored, nothing on chain refers to it: the node
			// serves it to no one, not even its uploader.
			for _, f := range blobsAfter {
				if slices.Contains(blobsBefore, f) {
					continue
				}
				h := filepath.Base(f)
				status, resp := signed(t, nw.apis[0], chainID, mc.key(t, "doctor2"), http.MethodGet, "/v1/blobs/"+h, nil)
				wantAPIError(t, "GET of an unregistered blob", status, resp, http.StatusNotFound, 3, "gateway")
			}
		})
	}
}
