package fhir

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy/cond"
)

// resourceCodes lists a resource's coded concept (its code element's
// codings, "system|code"), sorted and distinct, at most cond.MaxCodes: what
// a consent's condition sees as codes. The chain stores no codes; only this
// server, holding the plaintext, knows them. Never nil: codes are known.
func resourceCodes(res map[string]any) []string {
	out := []string{}
	code, _ := res["code"].(map[string]any)
	codings, _ := code["coding"].([]any)
	for _, c := range codings {
		m, _ := c.(map[string]any)
		sys, _ := m["system"].(string)
		val, _ := m["code"].(string)
		if val == "" || strings.ContainsRune(sys+val, 0) {
			continue
		}
		out = append(out, sys+"|"+val)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > cond.MaxCodes {
		out = out[:cond.MaxCodes]
	}
	return out
}

// recheckCodes re-decides a read served under a consent with a condition,
// now that the plaintext's codes are known: a condition over codes (for
// example "only Observations with these LOINC codes") is enforced here,
// after decryption and before anything is returned. The decision without
// codes saw codes_known false.
func recheckCodes(rq *request, t consent.Target, d consent.Decision, pt []byte) consent.Decision {
	if d.Condition == "" {
		return d
	}
	var res map[string]any
	if err := json.Unmarshal(pt, &res); err != nil {
		res = nil
	}
	t.Codes = consent.KnownCodes(resourceCodes(res))
	// The decision the plaintext was opened under stands when its
	// condition holds with the codes (it names the consent whose key
	// route was used); otherwise another basis may still allow the read.
	if consent.Grounds(rq.snap, rq.now, rq.sess.addr, t, consent.ActRead, d) == nil {
		return d
	}
	return consent.MayRead(rq.snap, rq.now, rq.sess.addr, t)
}
