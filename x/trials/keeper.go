package trials

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

func get[T any](kv store.Reader, key []byte, decode func([]byte) (*T, error)) *T {
	b := kv.Get(key)
	if b == nil {
		return nil
	}
	v, err := decode(b)
	store.Check(err)
	return v
}

// GetTrial loads a trial, or nil.
func GetTrial(kv store.Reader, id string) *Trial { return get(kv, trialKey(id), DecodeTrial) }

// PutTrial stores a trial.
func PutTrial(kv store.KV, t *Trial) { kv.Set(trialKey(t.ID), codec.Marshal(t)) }

// GetVersion loads a protocol version, or nil.
func GetVersion(kv store.Reader, id string, v uint32) *Version {
	return get(kv, versionKey(id, v), DecodeVersion)
}

func putVersion(kv store.KV, id string, v *Version) {
	kv.Set(versionKey(id, v.Number), codec.Marshal(v))
}

// Versions lists a trial's protocol versions in order.
func Versions(kv store.Reader, t *Trial) []*Version {
	out := make([]*Version, 0, t.Version)
	for n := uint32(1); n <= t.Version; n++ {
		if v := GetVersion(kv, t.ID, n); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// GetParticipation loads a participant's part in a trial, or nil.
func GetParticipation(kv store.Reader, id string, p crypto.Address) *Participation {
	return get(kv, participationKey(id, p), DecodeParticipation)
}

func putParticipation(kv store.KV, p *Participation) {
	kv.Set(participationKey(p.Trial, p.Participant), codec.Marshal(p))
}

// Participations lists a trial's participants in address order.
func Participations(kv store.Reader, id string) []*Participation {
	var out []*Participation
	pre := append([]byte{sm.PrefixTrialParticipant}, id...)
	kv.Iterate(pre, store.PrefixEnd(pre), func(_, v []byte) bool {
		p, err := DecodeParticipation(v)
		store.Check(err)
		out = append(out, p)
		return true
	})
	return out
}

// GetAnchor loads an anchor, or nil.
func GetAnchor(kv store.Reader, id string, seq uint64) *Anchor {
	return get(kv, anchorKey(id, seq), DecodeAnchor)
}

func putAnchor(kv store.KV, a *Anchor) { kv.Set(anchorKey(a.Trial, a.Seq), codec.Marshal(a)) }

// Anchors lists a trial's anchors in order.
func Anchors(kv store.Reader, t *Trial) []*Anchor {
	out := make([]*Anchor, 0, t.Anchors)
	for s := uint64(1); s <= t.Anchors; s++ {
		if a := GetAnchor(kv, t.ID, s); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// GetResults loads a trial's results, or nil.
func GetResults(kv store.Reader, id string) *Results { return get(kv, resultsKey(id), DecodeResults) }

func putResults(kv store.KV, r *Results) { kv.Set(resultsKey(r.Trial), codec.Marshal(r)) }

// Trials lists every trial in registry-id order.
func Trials(kv store.Reader) []*Trial {
	var out []*Trial
	pre := []byte{sm.PrefixTrial}
	kv.Iterate(pre, store.PrefixEnd(pre), func(_, v []byte) bool {
		t, err := DecodeTrial(v)
		store.Check(err)
		out = append(out, t)
		return true
	})
	return out
}

// ParticipationsOf lists a patient's participations, in trial order.
func ParticipationsOf(kv store.Reader, patient crypto.Address) []*Participation {
	var out []*Participation
	for _, t := range Trials(kv) {
		if p := GetParticipation(kv, t.ID, patient); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// TrialOfKey names the trial a trials state key belongs to, and whether
// the key holds participant-level (patient-scoped) data: a participation
// or an anchor.
func TrialOfKey(key []byte) (id string, patientScoped, ok bool) {
	if len(key) < 1+IDLen {
		return "", false, false
	}
	id = string(key[1 : 1+IDLen])
	switch key[0] {
	case sm.PrefixTrialParticipant, sm.PrefixTrialAnchor:
		return id, true, true
	case sm.PrefixTrial, sm.PrefixTrialVersion, sm.PrefixTrialResults:
		return id, false, true
	}
	return "", false, false
}
