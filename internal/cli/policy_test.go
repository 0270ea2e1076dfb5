package cli_test

import (
	"strings"
	"testing"
)

// TestPolicyConditionCommands: check and explain work offline and answer
// as the chain would; an ill-typed condition is refused with its code.
func TestPolicyConditionCommands(t *testing.T) {
	wantContains(t, ok(t, "policy", "condition", "check", `"org-x" in encounter_orgs && block_time.getHours("Europe/Paris") < 18`),
		"ok: condition", "reads block_time, encounter_orgs")
	wantContains(t, fails(t, "policy", "condition", "check", `diagnosis == "flu"`), "undeclared reference")
	wantContains(t, fails(t, "policy", "condition", "check", "--max-cost", "10", `codes.exists(c, c.startsWith("http://loinc.org|"))`), "estimated cost")
	expr := `block_time.getHours("Europe/Paris") < 18`
	wantContains(t, ok(t, "policy", "condition", "explain", expr, "--at", "2026-01-15T16:59:00Z"), "allowed")
	wantContains(t, ok(t, "policy", "condition", "explain", expr, "--at", "2026-01-15T17:00:00Z"), "refused", "does not hold")
	wantContains(t, ok(t, "policy", "condition", "explain", "--kind", "event", `attrs["type"] == "Observation"`,
		"--event", "record_added", "--attrs", "type=Observation"), "allowed")
}

// TestPolicyRuleCommands: a patient adds a rule, lists, pauses, resumes
// and deletes it; a consent grant with an ill-typed condition is refused.
func TestPolicyRuleCommands(t *testing.T) {
	id := strings.TrimSpace(ok(t, "policy", "rule", "add", "--from", "patient2", "--event", "record_added",
		"--if", `attrs["type"] == "Observation"`, "--action", "notify", "--to", "org:dev-hospital", "--topic", "new_observation"))
	wantContains(t, ok(t, "policy", "rule", "list", "--from", "patient2"), id, "record_added", "notify", "active")
	wantContains(t, ok(t, "policy", "rule", "pause", "--from", "patient2", id), "paused")
	wantContains(t, ok(t, "policy", "rule", "list", "--from", "patient2"), "paused")
	wantContains(t, fails(t, "policy", "rule", "resume", "--from", "patient1", id), "code 13/policy")
	wantContains(t, ok(t, "policy", "rule", "resume", "--from", "patient2", id), "resumed")
	wantContains(t, ok(t, "policy", "rule", "delete", "--from", "patient2", id), "deleted")
	wantContains(t, fails(t, "policy", "rule", "add", "--from", "patient2", "--event", "record_read", "--action", "notify",
		"--to", "org:dev-hospital", "--topic", "x"), "unknown automation event")
	wantContains(t, fails(t, "consent", "grant", "--from", "patient2", "--to", "org:dev-hospital", "--condition", `role == 3`), "type-check")
}
