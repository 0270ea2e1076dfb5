package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/medchain/medchain/x/policy/cond"
)

// TestPolicyReads: checking an expression is public and answers what
// registration would; an account's rules and a patient's encounters are
// signed reads.
func TestPolicyReads(t *testing.T) {
	s := newAuthServer(t, escrowState(t), RateLimit{})
	alice := akey("alice").Address().String()
	for _, tc := range []struct {
		name, signer, path string
		want               int
	}{
		{"check is public", "", "/v1/policy/check?expr=" + url.QueryEscape(`role == "practitioner"`), 200},
		{"check needs an expression", "", "/v1/policy/check", 400},
		{"unsigned rules list", "", "/v1/accounts/" + alice + "/rules", 401},
		{"patient lists its rules", "alice", "/v1/accounts/" + alice + "/rules", 200},
		{"guardian lists the patient's rules", "gina", "/v1/accounts/" + alice + "/rules", 200},
		{"stranger may not", "bob", "/v1/accounts/" + alice + "/rules", 403},
		{"patient reads its encounters", "alice", "/v1/patients/" + alice + "/encounters", 200},
		{"stranger may not read encounters", "bob", "/v1/patients/" + alice + "/encounters", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := get(t, s, tc.signer, tc.path); w.Code != tc.want {
				t.Errorf("HTTP %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	for expr, want := range map[string]string{
		`"org-x" in encounter_orgs && block_time.getHours("Europe/Paris") < 18`: "",
		`diagnosis == "flu"`: "policy/3",
		`1.5 > 1.0`:          "policy/4",
	} {
		var c ConditionCheck
		w := get(t, s, "", "/v1/policy/check?expr="+url.QueryEscape(expr))
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Accepted != (want == "") || !strings.HasPrefix(c.Error, want) || c.Hash != cond.Hash(expr) {
			t.Errorf("%s: %+v, want error %q", expr, c, want)
		}
	}
}
