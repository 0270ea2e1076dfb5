package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/internal/keystore"
)

// TestTrialLifecycle runs a trial through the CLI against the dev node:
// the ordering rules as the chain enforces them (no enrollment before
// consent, no capture during a pending re-consent, none after withdrawal
// or lock), an inclusion proof checked by `medchain verify --inclusion`
// with a light client (and a forged one refused), the overseers' timeline,
// the outcome-switching report, and the FHIR ResearchStudy and
// ResearchSubject views validated as R4.
func TestTrialLifecycle(t *testing.T) {
	home := devNode(t)
	cfg, err := config.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	witness := "http://" + cfg.RPC.Listen
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const id = "NCT00000016"
	protocol, sap := file("protocol.pdf", "protocol v1"), file("sap.pdf", "sap v1")
	ok(t, "trial", "register", "--from", "sponsor-admin", "--id", id, "--title", "Weekly vs daily basal insulin",
		"--site", "dev-hospital", "--site", "dev-lab", "--protocol", protocol, "--sap", sap, "--planned", "40",
		"--primary", "Change in HbA1c|Baseline to week 26", "--secondary", "Body weight|Week 26", "--secondary", "Hypoglycaemia events|Weeks 0 to 26")
	wantContains(t, fails(t, "trial", "register", "--from", "doctor1", "--id", "NCT00000017", "--title", "x", "--site", "dev-hospital",
		"--protocol", protocol, "--sap", sap, "--planned", "1", "--primary", "a|b"), "code 2/trials")
	wantContains(t, fails(t, "trial", "register", "--from", "sponsor-admin", "--id", "NCT123", "--title", "x", "--site", "dev-hospital",
		"--protocol", protocol, "--sap", sap, "--planned", "1", "--primary", "a|b"), "code 1/trials")

	// No enrollment before consent.
	wantContains(t, fails(t, "trial", "enroll", id, "patient1", "--from", "doctor1"), "enroll only after consent")
	wantContains(t, ok(t, "trial", "consent", id, "--from", "patient1"), "protocol version 1")
	wantContains(t, fails(t, "trial", "enroll", id, "patient1", "--from", "pharmacist1"), "not an active practitioner or researcher of one of the trial's sites")
	ok(t, "trial", "consent", id, "--from", "patient2")
	wantContains(t, ok(t, "trial", "enroll", id, "patient2", "--from", "doctor1"), "enrolled in trial "+id+" at dev-hospital")

	// A batch for patient2, collected an hour ago… but patient2 consented
	// seconds ago: data collected before consent is refused.
	p2 := keyAddr(t, "patient2")
	batchOf := func(name string, collected time.Time, hashes ...string) string {
		var b strings.Builder
		b.WriteString(`{"items": [`)
		for i, h := range hashes {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"participant": %q, "record_hash": %q, "collected": %q}`, p2, h, collected.Add(-time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
		}
		b.WriteString("]}")
		return file(name, b.String())
	}
	h := func(c byte) string { return strings.Repeat(string([]byte{c}), 64) }
	wantContains(t, fails(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batchOf("early.json", time.Now().Add(-time.Hour), h('a'))), "before a participant's first consent")
	time.Sleep(3 * time.Second) // collected after the consent block, before the anchor's
	batch := batchOf("batch1.json", time.Now().Add(-time.Second), h('a'), h('b'), h('c'))
	wantContains(t, ok(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batch), "anchor 1 of trial "+id, "3 leaves, 1 participants")

	// The inclusion of a datum, verified against the chain with a light client.
	proofFile := file("proof.json", ok(t, "trial", "prove", id, "--batch", batch, "--anchor", "1", "--record", h('b')))
	r := run(t, devEnv(), "verify", "--inclusion", proofFile, "--from", "sponsor-admin", "--witness", witness)
	if r.code != 0 {
		t.Fatalf("verify --inclusion: %v", r)
	}
	wantContains(t, r.stdout, "included:", "leaf 1 of 3", "on time", "inclusion verified: the anchored root is in chain state")
	var ip map[string]any
	if err := json.Unmarshal([]byte(ok(t, "trial", "prove", id, "--batch", batch, "--anchor", "1", "--index", "2")), &ip); err != nil {
		t.Fatal(err)
	}
	ip["record_hash"] = h('d') // a datum that was never anchored
	forged, _ := json.Marshal(ip)
	wantContains(t, fails(t, "verify", "--inclusion", file("forged.json", string(forged)), "--from", "sponsor-admin", "--witness", witness),
		"inclusion NOT verified", "does not lead to the anchored root")
	// The anchor names participants: a non-overseer may not read its proof.
	wantContains(t, fails(t, "verify", "--inclusion", proofFile, "--from", "pharmacist1", "--witness", witness), "may not read this trial participant-level state")

	// An amendment that requires re-consent pauses capture until then.
	ok(t, "trial", "amend", id, "--from", "sponsor-admin", "--protocol", file("protocol2.pdf", "protocol v2"), "--sap", sap,
		"--primary", "Change in HbA1c|Baseline to week 26", "--secondary", "Body weight|Week 26", "--secondary", "Hypoglycaemia events|Weeks 0 to 26",
		"--reconsent", "--reason", "new safety information")
	batch2 := batchOf("batch2.json", time.Now().Add(-time.Second), h('e'))
	wantContains(t, fails(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batch2), "must re-consent")
	wantContains(t, ok(t, "trial", "consent", id, "--from", "patient2"), "protocol version 2")
	ok(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batch2)

	// Withdrawal stops capture; the sponsor sees it, without a reason.
	wantContains(t, ok(t, "trial", "withdraw", id, "--from", "patient2"), "not its reason")
	wantContains(t, fails(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batchOf("batch3.json", time.Now().Add(-time.Second), h('f'))), "withdrew")

	// The timeline: overseers only.
	tl := ok(t, "trial", "timeline", id, "--from", "sponsor-admin")
	wantContains(t, tl, "registered", "amended", "RE-CONSENT REQUIRED", "consent", "enrolled", "anchor", "withdrawn", p2)
	wantContains(t, ok(t, "trial", "timeline", id, "--from", "regulator-admin"), "withdrawn")
	wantContains(t, ok(t, "trial", "participants", id, "--from", "sponsor-admin"), p2+" (patient2)", "withdrawn", "consented")
	wantContains(t, fails(t, "trial", "participants", id, "--from", "pharmacist1"), "not a member of trial")
	wantContains(t, fails(t, "trial", "timeline", id, "--from", "pharmacist1"), "not a member of trial")
	wantContains(t, fails(t, "trial", "timeline", id, "--from", "patient2"), "not a member of trial")

	// The lock, then nothing but results; the results switch outcomes.
	ok(t, "trial", "lock", id, "--from", "sponsor-admin")
	wantContains(t, fails(t, "trial", "anchor", id, "--from", "doctor1", "--batch", batch2), "locked")
	wantContains(t, fails(t, "trial", "consent", id, "--from", "patient1"), "locked")
	res := ok(t, "trial", "results", id, "--from", "sponsor-admin", "--report", file("report.pdf", "results"),
		"--primary", "Change in HbA1c|Baseline to week 52", "--secondary", "Body weight|Week 26", "--secondary", "Fasting plasma glucose|Week 26")
	wantContains(t, res, "1 added, 1 dropped, 1 changed", "ADDED    secondary: Fasting plasma glucose", "DROPPED  secondary: Hypoglycaemia events",
		"CHANGED  primary: Change in HbA1c (Baseline to week 26) -> primary: Change in HbA1c (Baseline to week 52)")
	show := ok(t, "trial", "show", id)
	wantContains(t, show, "status:", "completed", "version 2", "re-consent required", "outcome switching:", "DROPPED")
	wantContains(t, ok(t, "trial", "timeline", id, "--from", "sponsor-admin"), "locked", "OUTCOME SWITCHING: 1 added, 1 dropped, 1 changed")

	// FHIR views, valid R4.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var study json.RawMessage
	if err := client.New(shared.api).Get(ctx, "/v1/trials/"+id+"?format=fhir", &study); err != nil {
		t.Fatal(err)
	}
	if _, err := fhirr4.Parse(study); err != nil {
		t.Fatalf("ResearchStudy is not valid R4: %v\n%s", err, study)
	}
	wantContains(t, string(study), `"ResearchStudy"`, `"completed"`, `"https://clinicaltrials.gov"`, `"`+id+`"`)
	patient, err := keystore.Open(config.KeysDir(home)).Load("patient2", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	var subject json.RawMessage
	if err := client.New(shared.api).As(patient, "").Get(ctx, "/v1/trials/"+id+"/participants/"+p2+"?format=fhir", &subject); err != nil {
		t.Fatal(err)
	}
	if _, err := fhirr4.Parse(subject); err != nil {
		t.Fatalf("ResearchSubject is not valid R4: %v\n%s", err, subject)
	}
	wantContains(t, string(subject), `"ResearchSubject"`, `"withdrawn"`)
	var part api.ParticipantView
	other, err := keystore.Open(config.KeysDir(home)).Load("patient1", devnet.DevPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.New(shared.api).As(other, "").Get(ctx, "/v1/trials/"+id+"/participants/"+p2, &part); err == nil {
		t.Fatal("patient1 read patient2's participation")
	}
}
