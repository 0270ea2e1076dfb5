package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/consent"
)

// Signal is a suspicious-access warning derived from the trail.
type Signal struct {
	Kind     string // "bulk_reads", "refused_expired_or_revoked", "emergency_unreviewed"
	Accessor crypto.Address
	Detail   string
	Time     int64
}

// SignalOptions tune Signals.
type SignalOptions struct {
	Window      int64 // seconds; bulk reads are counted per window
	MaxPatients int   // distinct patients per window above which reads are suspicious
}

// DefaultSignalOptions: more than 20 patients' records read within an hour.
var DefaultSignalOptions = SignalOptions{Window: 3600, MaxPatients: 20}

// Signals derives warnings about the accesses to one patient's records at
// block time now: accessors who read an unusual number of patients' records
// in a window around their reads of this patient, reads attempted under an
// expired or revoked consent, and emergency accesses that expired without
// review.
func Signals(kv store.Reader, patient crypto.Address, now int64, o SignalOptions) []Signal {
	var out []Signal
	trail := Trail(kv, patient, Filter{})
	checked := map[crypto.Address]bool{}
	for _, e := range trail {
		if !e.Served && (strings.HasPrefix(e.Reason, fmt.Sprintf("%s/%d", consent.Codespace, consent.ErrConsentExpired.Code)) ||
			strings.HasPrefix(e.Reason, fmt.Sprintf("%s/%d", consent.Codespace, consent.ErrConsentRevoked.Code))) {
			out = append(out, Signal{Kind: "refused_expired_or_revoked", Accessor: e.Accessor, Time: e.Time, Detail: e.Reason})
		}
		if !e.Served || e.Accessor == patient || checked[e.Accessor] {
			continue
		}
		checked[e.Accessor] = true
		if n, at := maxPatientsInWindow(ByAccessor(kv, e.Accessor, 0, 0), o.Window); n > o.MaxPatients {
			out = append(out, Signal{Kind: "bulk_reads", Accessor: e.Accessor, Time: at,
				Detail: fmt.Sprintf("read records of %d patients within %d s", n, o.Window)})
		}
	}
	for _, em := range consent.EmergenciesOf(kv, patient) {
		if em.Reviewed == 0 && now >= em.Expires {
			out = append(out, Signal{Kind: "emergency_unreviewed", Accessor: em.Practitioner, Time: em.Expires,
				Detail: fmt.Sprintf("emergency access %d by %s (%s) expired without review", em.ID, em.Practitioner, em.Org)})
		}
	}
	slices.SortStableFunc(out, func(a, b Signal) int { return int(a.Time - b.Time) })
	return out
}

// maxPatientsInWindow returns the largest number of distinct patients whose
// records were served within any window of the given length, and when.
func maxPatientsInWindow(evs []Event, window int64) (int, int64) {
	var served []Event
	for _, e := range evs {
		if e.Served {
			served = append(served, e)
		}
	}
	slices.SortFunc(served, func(a, b Event) int { return int(a.Time - b.Time) })
	best, at := 0, int64(0)
	counts := map[crypto.Address]int{}
	lo := 0
	for hi := range served {
		counts[served[hi].Patient]++
		// lo < hi: with a window of zero or less the read at hi would
		// leave its own window, and lo would run past the end.
		for lo < hi && served[hi].Time-served[lo].Time >= window {
			if counts[served[lo].Patient]--; counts[served[lo].Patient] == 0 {
				delete(counts, served[lo].Patient)
			}
			lo++
		}
		if len(counts) > best {
			best, at = len(counts), served[hi].Time
		}
	}
	return best, at
}
