package lightproof

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/store/merkle"
)

// MaxProofBytes bounds the encoded ICS23 proof VerifyAgainstHeader decodes.
// A sparse Merkle proof is about 35 bytes per tree level (some 30 levels
// for millions of keys), and a non-membership proof holds two; this is far
// above any real one.
const MaxProofBytes = 64 << 10

// Errors of VerifyAgainstHeader, checked with errors.Is.
var (
	// ErrMalformed: the proof cannot be decoded or contradicts itself.
	ErrMalformed = errors.New("malformed proof")
	// ErrKeyMismatch: the proof is for another key than the one asked about.
	ErrKeyMismatch = errors.New("proof is for another key")
	// ErrValueMismatch: the proven value is not the one the caller expects.
	ErrValueMismatch = errors.New("proof is for another value")
	// ErrNotProven: the ICS23 proof does not verify against the app hash.
	ErrNotProven = errors.New("proof does not verify against the app hash")
)

// VerifyAgainstHeader checks p against appHash, the app hash of state version
// p.Height (found in the header of block p.Height+1), for key.
//
// It verifies what p claims: membership of p.Value when p.Exists, otherwise
// absence of the key. When wantValue is non-nil the claim must also be
// membership of exactly wantValue; to require absence, call with a nil
// wantValue and check p.Exists afterwards. p.Height is not checked here: it
// is the caller's job to take appHash from the right header.
func VerifyAgainstHeader(appHash []byte, p *api.Proof, key, wantValue []byte) error {
	if p == nil {
		return fmt.Errorf("%w: no proof", ErrMalformed)
	}
	if len(appHash) == 0 {
		return errors.New("empty app hash")
	}
	if len(key) == 0 {
		return errors.New("no key to check the proof for")
	}
	claimed, err := hex.DecodeString(p.Key)
	if err != nil {
		return fmt.Errorf("%w: key is not hex: %v", ErrMalformed, err)
	}
	if !bytes.Equal(claimed, key) {
		return fmt.Errorf("%w: proof key %X, want %X", ErrKeyMismatch, claimed, key)
	}
	if len(p.Proof) == 0 || len(p.Proof) > MaxProofBytes {
		return fmt.Errorf("%w: %d proof bytes, want 1 to %d", ErrMalformed, len(p.Proof), MaxProofBytes)
	}
	var cp ics23.CommitmentProof
	if err := cp.Unmarshal(p.Proof); err != nil {
		return fmt.Errorf("%w: decode ICS23 proof: %v", ErrMalformed, err)
	}
	if err := checkShape(&cp, key, p.Exists); err != nil {
		return err
	}
	var value []byte // nil: prove absence
	if p.Exists {
		// JSON drops an empty value (omitempty); it is still a value.
		value = p.Value
		if value == nil {
			value = []byte{}
		}
	} else if len(p.Value) > 0 {
		return fmt.Errorf("%w: a value with exists=false", ErrMalformed)
	}
	if wantValue != nil {
		if !p.Exists {
			return fmt.Errorf("%w: the proof claims the key is absent", ErrValueMismatch)
		}
		if !bytes.Equal(value, wantValue) {
			return fmt.Errorf("%w: proven value differs from the expected one", ErrValueMismatch)
		}
	}
	if err := merkle.VerifyProof(appHash, &cp, key, value); err != nil {
		return fmt.Errorf("%w %X: %v", ErrNotProven, appHash, err)
	}
	return nil
}

// checkShape accepts only what medchain's API builds: one existence proof for
// a present key, one non-existence proof for an absent one, naming key. ics23
// ignores the key a non-existence proof names (its neighbours carry the
// proof); a proof that names another key is refused anyway, so that no byte of
// an accepted proof is free to change.
func checkShape(cp *ics23.CommitmentProof, key []byte, exists bool) error {
	switch x := cp.Proof.(type) {
	case *ics23.CommitmentProof_Exist:
		if !exists {
			return fmt.Errorf("%w: an existence proof for a key claimed absent", ErrNotProven)
		}
	case *ics23.CommitmentProof_Nonexist:
		if exists {
			return fmt.Errorf("%w: a non-existence proof for a key claimed present", ErrNotProven)
		}
		if x.Nonexist == nil || !bytes.Equal(x.Nonexist.Key, key) {
			return fmt.Errorf("%w: the non-existence proof names another key", ErrKeyMismatch)
		}
	default:
		return fmt.Errorf("%w: want a single existence or non-existence proof, got %T", ErrMalformed, cp.Proof)
	}
	return nil
}
