package staking

import (
	"math"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/bank"
)

// GetSigningInfo returns a validator's downtime window, or nil.
func GetSigningInfo(kv store.Reader, pub crypto.PubKey) *SigningInfo {
	b := kv.Get(signingKey(pub))
	if b == nil {
		return nil
	}
	s, err := decodeSigningInfo(b)
	store.Check(err)
	return s
}

// handleEvidence slashes and tombstones validators CometBFT proved to have
// double signed. The stake slashed is what was bonded at the infraction:
// the validator's bonded tokens and its unbonding entries begun at or after
// the infraction height (stake that left before the fault is not liable).
func (k Keeper) handleEvidence(ctx sm.Context, info sm.BlockInfo) {
	if len(info.Misbehavior) == 0 {
		return
	}
	known := consKeys(ctx.Store)
	for _, mb := range info.Misbehavior {
		pub, ok := known[mb.Validator]
		if !ok {
			continue
		}
		v, _ := k.load(ctx.Store, pub)
		if v == nil || v.Tombstoned {
			continue // punished once per fault kind, as Cosmos SDK does
		}
		bps := k.Params.Get(ctx.Store, ParamDoubleSignSlash)
		burned := k.slash(ctx, v, bps, mb.Height)
		kind := "duplicate_vote"
		if mb.Kind == sm.MisbehaviorLightClientAttack {
			kind = "light_client_attack"
		}
		jailed := activeOthers(ctx.Store, pub)
		if jailed {
			v.Jailed, v.JailedUntil, v.Tombstoned = true, math.MaxInt64, true
		}
		putValidator(ctx.Store, v)
		ctx.Events.Emit("slash", sm.Attr{Key: "validator", Value: pub.String()}, sm.Attr{Key: "org", Value: v.Org}, sm.Attr{Key: "reason", Value: kind},
			sm.Attr{Key: "infraction_height", Value: strconv.FormatInt(mb.Height, 10)}, sm.Attr{Key: "burned", Value: u64(burned)},
			sm.Attr{Key: "tombstoned", Value: strconv.FormatBool(jailed)})
	}
}

// slash burns bps/10000 of the validator's bonded tokens and of its
// unbonding entries begun at or after fromHeight (none when fromHeight is
// negative). The delegators' shares stay: each share is worth less. It
// returns the tokens burned; v is updated but not stored.
func (k Keeper) slash(ctx sm.Context, v *Validator, bps uint64, fromHeight int64) uint64 {
	if bps == 0 {
		return 0
	}
	var burned uint64
	if fromHeight >= 0 {
		for _, u := range UnbondingsFrom(ctx.Store, v.PubKey) {
			if u.Height < fromHeight {
				continue
			}
			cut, _ := mulDiv(u.Amount, bps, 10_000)
			if cut == 0 {
				continue
			}
			store.Check(bank.Burn(ctx.Store, UnbondingPool, cut))
			u.Amount -= cut
			ctx.Store.Set(unbondingKey(u.Completion, u.Seq), codec.Marshal(u))
			burned += cut
		}
	}
	if cut, _ := mulDiv(v.Tokens, bps, 10_000); cut > 0 {
		store.Check(bank.Burn(ctx.Store, BondedPool, cut))
		v.Tokens -= cut
		burned += cut
	}
	return burned
}

// handleDowntime counts the last commit's missed votes of approved,
// unjailed validators in fixed windows of ParamSignedWindow blocks; a
// validator that misses more than the window allows is jailed and slashed.
// Only a miss writes state.
func (k Keeper) handleDowntime(ctx sm.Context, info sm.BlockInfo) {
	var known map[sm.ConsAddress]crypto.PubKey
	for _, vote := range info.LastCommit {
		if vote.Signed {
			continue
		}
		if known == nil {
			known = consKeys(ctx.Store)
		}
		pub, ok := known[vote.Validator]
		if !ok {
			continue
		}
		v, gv := k.load(ctx.Store, pub)
		if gv == nil || v.Jailed {
			continue
		}
		window := int64(k.Params.Get(ctx.Store, ParamSignedWindow))
		mustSign := uint64(window) * k.Params.Get(ctx.Store, ParamMinSigned) / 10_000
		s := GetSigningInfo(ctx.Store, pub)
		if s == nil || ctx.Height >= s.WindowStart+window {
			s = &SigningInfo{WindowStart: ctx.Height}
		}
		s.Missed++
		if s.Missed <= uint64(window)-mustSign || !activeOthers(ctx.Store, pub) {
			ctx.Store.Set(signingKey(pub), codec.Marshal(s))
			continue
		}
		burned := k.slash(ctx, v, k.Params.Get(ctx.Store, ParamDowntimeSlash), -1)
		v.Jailed = true
		v.JailedUntil = ctx.Time.Unix() + int64(k.Params.Get(ctx.Store, ParamDowntimeJail))
		putValidator(ctx.Store, v)
		ctx.Store.Delete(signingKey(pub))
		ctx.Events.Emit("slash", sm.Attr{Key: "validator", Value: pub.String()}, sm.Attr{Key: "org", Value: v.Org}, sm.Attr{Key: "reason", Value: "downtime"},
			sm.Attr{Key: "missed", Value: u64(s.Missed)}, sm.Attr{Key: "burned", Value: u64(burned)},
			sm.Attr{Key: "jailed_until", Value: strconv.FormatInt(v.JailedUntil, 10)})
	}
}
