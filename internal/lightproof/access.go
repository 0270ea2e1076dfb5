package lightproof

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// Errors of CheckAccess, besides those of VerifyAgainstHeader.
var (
	// ErrAccessMismatch: the proven state does not support the answer.
	ErrAccessMismatch = errors.New("the proven state does not support the access answer")
	// ErrGroundMissing: the decision reads a key the answer does not prove.
	ErrGroundMissing = errors.New("the access answer does not prove a ground the decision rests on")
	// ErrRefusalUnproven: a refusal for want of a consent cannot be proven,
	// since the listings of a patient's consents and emergencies are index
	// keys, outside the Merkle tree. Only refusals of an erased record or of
	// an unknown or inactive reader are provable.
	ErrRefusalUnproven = errors.New("a refusal for want of a consent cannot be proven (consent listings are index keys, outside the Merkle tree)")
)

// AccessCheck is what CheckAccess established.
type AccessCheck struct {
	Allowed bool
	Basis   consent.Basis
	Patient crypto.Address
	Type    string
	Grounds int // proofs checked, the record's included
}

// CheckAccess checks an access answer (GET /v1/records/{id}/access?prove=true)
// end to end against appHash, the app hash of state a.Height, and blockTime,
// the time of block a.Height (both from headers a light client verified).
//
// Every proof must verify against appHash at a.Height. The record comes from
// its proof; an allowed answer is then re-decided by consent.Grounds over a
// store holding only the proven values, which fails if the decision reads any
// key the answer does not prove. A refusal is accepted when the proofs show
// the record erased or the reader unknown or inactive, and is otherwise
// ErrRefusalUnproven.
func CheckAccess(appHash []byte, blockTime time.Time, a *api.AccessView) (_ *AccessCheck, err error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no answer", ErrMalformed)
	}
	if a.BlockTime.Unix() != blockTime.Unix() {
		return nil, fmt.Errorf("%w: answer judged at %s, block %d is at %s", ErrAccessMismatch,
			a.BlockTime.UTC().Format(time.RFC3339), a.Height, blockTime.UTC().Format(time.RFC3339))
	}
	id, err := api.ParseRecordID(a.Record)
	if err != nil {
		return nil, fmt.Errorf("%w: record %q", ErrMalformed, a.Record)
	}
	reader, err := crypto.ParseAddress(a.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: reader %q", ErrMalformed, a.Reader)
	}
	proven := provenState{m: map[string][]byte{}}
	add := func(p *api.Proof) error {
		if p == nil {
			return nil
		}
		if p.Height != a.Height {
			return fmt.Errorf("%w: a proof at height %d in an answer at %d", ErrMalformed, p.Height, a.Height)
		}
		key, err := hex.DecodeString(p.Key)
		if err != nil || len(key) == 0 || store.IsIndexKey(key) {
			return fmt.Errorf("%w: proof key %q", ErrMalformed, p.Key)
		}
		if err := VerifyAgainstHeader(appHash, p, key, nil); err != nil {
			return err
		}
		var v []byte
		if p.Exists {
			v = append([]byte{}, p.Value...)
		}
		if old, dup := proven.m[string(key)]; dup && (old == nil) != (v == nil) {
			return fmt.Errorf("%w: key %X proven twice differently", ErrMalformed, key)
		}
		proven.m[string(key)] = v
		return nil
	}
	if a.RecordProof == nil {
		return nil, fmt.Errorf("%w: the record's", ErrGroundMissing)
	}
	if p := a.RecordProof; p.Key != hex.EncodeToString(records.RecordKey(id)) {
		return nil, fmt.Errorf("%w: record proof key %s", ErrKeyMismatch, p.Key)
	}
	for _, p := range append([]*api.Proof{a.RecordProof, a.ConsentProof}, a.Grounds...) {
		if err := add(p); err != nil {
			return nil, err
		}
	}
	// Decoding proven values and reading unproven keys panic inside the
	// modules' loaders; both are a failed check here.
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(missing); ok {
				err = fmt.Errorf("%w: key %X", ErrGroundMissing, []byte(e))
				return
			}
			if f, ok := r.(store.Fault); ok {
				err = fmt.Errorf("%w: %v", ErrAccessMismatch, f.Err)
				return
			}
			panic(r)
		}
	}()
	rec := records.GetRecord(proven, id)
	if rec == nil {
		return nil, fmt.Errorf("%w: the record is proven absent", ErrAccessMismatch)
	}
	out := &AccessCheck{Allowed: a.Allowed, Basis: consent.Basis(a.Basis), Patient: rec.Patient, Type: rec.Type, Grounds: len(proven.m)}
	if rec.Erased != 0 {
		if a.Allowed || a.Codespace != records.Codespace || a.Code != records.ErrErased.Code {
			return nil, fmt.Errorf("%w: the record is erased", ErrAccessMismatch)
		}
		return out, nil
	}
	if !a.Allowed {
		if acct := accounts.GetAccount(proven, reader); acct == nil || !accounts.CanSign(proven, acct) {
			return out, nil
		}
		return nil, ErrRefusalUnproven
	}
	recipient, err := partyOf(a.Recipient)
	if err != nil {
		return nil, err
	}
	d := consent.Decision{Allowed: true, Basis: consent.Basis(a.Basis), ConsentID: a.ConsentID, EmergencyID: a.EmergencyID, Recipient: recipient}
	t := consent.Target{Patient: rec.Patient, Record: id, Type: rec.Type}
	if err := consent.Grounds(proven, blockTime.Unix(), reader, t, consent.ActRead, d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAccessMismatch, err)
	}
	return out, nil
}

func partyOf(v api.PartyView) (consent.Party, error) {
	switch v.Kind {
	case "org":
		return consent.Org(v.Org), nil
	case "account":
		a, err := crypto.ParseAddress(v.Address)
		if err != nil {
			return consent.Party{}, fmt.Errorf("%w: key recipient %q", ErrMalformed, v.Address)
		}
		return consent.Account(a), nil
	}
	return consent.Party{}, fmt.Errorf("%w: key recipient kind %q", ErrMalformed, v.Kind)
}

// provenState is a store.Reader over proven values only: a nil value is a
// proven absence, and reading a key that was not proven at all panics with
// missing, so that no decision can rest on an unproven key.
type provenState struct{ m map[string][]byte }

type missing string

func (s provenState) Get(key []byte) []byte {
	v, ok := s.m[string(key)]
	if !ok {
		panic(missing(key))
	}
	return v
}

func (s provenState) Iterate(start, _ []byte, _ func(k, v []byte) bool) {
	panic(missing(start)) // a listing cannot be proven
}

// VerifyAccess checks an access answer end to end: it waits for and verifies,
// with the light client, the header of block a.Height+1 (whose app hash is
// the state's) and of block a.Height (whose time the decision was judged at),
// then runs CheckAccess.
func (v *Verifier) VerifyAccess(ctx context.Context, a *api.AccessView) (*AccessCheck, *Result, error) {
	if a == nil || a.Height < 1 {
		return nil, nil, fmt.Errorf("%w: no answer, or height below 1", ErrMalformed)
	}
	nodeID, err := v.waitHeight(ctx, a.Height+1)
	if err != nil {
		return nil, nil, err
	}
	v.mu.Lock()
	state, err1 := v.lc.VerifyLightBlockAtHeight(ctx, a.Height+1, v.now())
	block, err2 := v.lc.VerifyLightBlockAtHeight(ctx, a.Height, v.now())
	v.mu.Unlock()
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("light client: headers %d and %d from %s: %w", a.Height, a.Height+1, v.witness, err)
	}
	check, err := CheckAccess(state.AppHash, block.Time, a)
	if err != nil {
		return nil, nil, fmt.Errorf("state %d against header %d (%X) from %s: %w", a.Height, state.Height, state.Hash(), v.witness, err)
	}
	return check, &Result{
		Height: a.Height, Exists: true, HeaderHeight: state.Height, HeaderHash: state.Hash(),
		HeaderTime: state.Time, AppHash: state.AppHash, Witness: v.witness, WitnessNodeID: nodeID,
	}, nil
}
