package cli_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestFHIRToken(t *testing.T) {
	tok := strings.TrimSpace(ok(t, "fhir", "token", "--from", "patient1", "--scope", "patient/*.read,patient/*.write", "--expires", "10m"))
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q: want 32 bytes in base64url", tok)
	}
	get := func(tok, path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, shared.api+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(tok, "/fhir/Observation?patient=Patient/"+keyAddr(t, "patient1")); code != http.StatusOK {
		t.Fatalf("search with the token: HTTP %d", code)
	}
	if code := get("not-a-token", "/fhir/Observation"); code != http.StatusUnauthorized {
		t.Fatalf("without a valid token: HTTP %d", code)
	}
	other := strings.TrimSpace(ok(t, "fhir", "token", "--from", "patient1", "--scope", "patient/*.read", "--expires", "10m"))
	// "--": a token may begin with '-' (one in 64), which cobra would take
	// for a flag.
	if s := ok(t, "fhir", "revoke", "--", other); !strings.Contains(s, "revoked") {
		t.Fatalf("revoke: %s", s)
	}
	if code := get(other, "/fhir/Observation"); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: HTTP %d", code)
	}
	if code := get(tok, "/fhir/Observation?patient=Patient/"+keyAddr(t, "patient1")); code != http.StatusOK {
		t.Fatalf("revoking one token ended another: HTTP %d", code)
	}
	wantContains(t, fails(t, "fhir", "revoke", "--", other), "401")

	var out struct {
		Scope     string `json:"scope"`
		Delegated bool   `json:"delegated"`
		Patient   string `json:"patient"`
	}
	okJSON(t, &out, "fhir", "token", "--from", "doctor1", "--scope", "user/*.read", "--no-delegation")
	if out.Scope != "user/*.read" || out.Delegated || out.Patient != "" {
		t.Fatalf("%+v", out)
	}
	if s := fails(t, "fhir", "token", "--from", "doctor1", "--scope", "system/*.read"); !strings.Contains(s, "system scopes") {
		t.Fatalf("system scope: %s", s)
	}
	if s := fails(t, "fhir", "token", "--from", "doctor1", "--scope", "user/*.read", "--expires", "9h"); !strings.Contains(s, "8h") {
		t.Fatalf("9 h token: %s", s)
	}
}

// TestFHIRTokenProvesTheOrganizationKey: the key the session is sealed to is
// proven against a light-client header from --witness, not taken from the
// node: a witness that cannot answer stops the login before anything is
// delegated or sealed.
func TestFHIRTokenProvesTheOrganizationKey(t *testing.T) {
	s := fails(t, "fhir", "token", "--from", "patient1", "--scope", "patient/*.read", "--witness", "http://127.0.0.1:1")
	if !strings.Contains(s, "light client") {
		t.Fatalf("with an unreachable witness: %s", s)
	}
	// The default witness is the RPC of the node whose home is --home: the
	// dev node itself; the check then says so.
	r := run(t, devEnv(), "fhir", "token", "--from", "patient1", "--scope", "patient/*.read")
	if r.code != 0 || !strings.Contains(r.stderr, "light-client header comes from the node itself") {
		t.Fatalf("default witness: %v", r)
	}
}
