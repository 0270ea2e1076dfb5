package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind is a kind of transaction in the medchain mix.
type Kind string

// The kinds of the mix. Guardian alternates accounts/set_guardian and
// accounts/revoke_guardian for the same patient.
const (
	KindRegister Kind = "register" // accounts/register_patient by a fresh key
	KindGrant    Kind = "grant"    // consent/grant to a development practitioner
	KindRevoke   Kind = "revoke"   // consent/revoke of a grant seen committed
	KindGuardian Kind = "guardian" // accounts/set_guardian, then revoke_guardian
	KindRecord   Kind = "record"   // records/add by the patient, wrapped to the patient
	KindAudit    Kind = "audit"    // audit/log by a development gateway
	KindBook     Kind = "book"     // telemed/book of a future slot by a development patient: its price into escrow
	KindCancel   Kind = "cancel"   // telemed/cancel of a booking seen committed: the escrow back to the patient
	KindEPCIS    Kind = "epcis"    // supply/capture by a development gateway: EPCISEvents commissioning events of fresh SSCCs
)

// Kinds lists the kinds in a fixed order.
var Kinds = []Kind{KindRegister, KindGrant, KindRevoke, KindGuardian, KindRecord, KindAudit, KindBook, KindCancel, KindEPCIS}

// DefaultMix is the mix used unless --mix says otherwise.
const DefaultMix = "register=1,grant=1,revoke=1,guardian=1,record=4,audit=2,book=1,cancel=1"

// Mix is a weight per kind.
type Mix map[Kind]float64

// ParseMix parses "kind=weight,kind=weight". Kinds not listed weigh 0; at
// least one weight must be positive.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix %q: want kind=weight", part)
		}
		k := Kind(strings.TrimSpace(name))
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("mix: unknown kind %q (kinds: %v)", k, Kinds)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("mix: %s listed twice", k)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || w < 0 || w != w || w > 1e6 {
			return nil, fmt.Errorf("mix: weight of %s: want a number from 0 to 1e6, got %q", k, val)
		}
		m[k] = w
	}
	if m.Total() == 0 {
		return nil, fmt.Errorf("mix %q: no positive weight", s)
	}
	return m, nil
}

// Total is the sum of the weights.
func (m Mix) Total() float64 {
	var t float64
	for _, w := range m {
		t += w
	}
	return t
}

// Share is kind's fraction of the mix.
func (m Mix) Share(k Kind) float64 {
	if t := m.Total(); t > 0 {
		return m[k] / t
	}
	return 0
}

// Pick chooses a kind for u uniform in [0, 1): kinds in Kinds order take
// consecutive slices of [0, 1) proportional to their weights.
func (m Mix) Pick(u float64) Kind {
	t := m.Total()
	x := u * t
	var last Kind
	for _, k := range Kinds {
		w := m[k]
		if w <= 0 {
			continue
		}
		if x < w {
			return k
		}
		x -= w
		last = k
	}
	return last // u*t rounded up to t
}

func (m Mix) String() string {
	var parts []string
	for _, k := range Kinds {
		if w, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%s", k, strconv.FormatFloat(w, 'g', -1, 64)))
		}
	}
	return strings.Join(parts, ",")
}
