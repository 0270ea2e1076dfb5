package app

import (
	"fmt"

	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/medchain/medchain/store/merkle"
)

// ProofOpType names medchain's proof operator in CometBFT ProofOps.
const ProofOpType = "ics23:smt"

// ProofOps wraps an ICS23 proof as CometBFT ProofOps (what abci_query returns).
func ProofOps(key []byte, p *ics23.CommitmentProof) (*cmtcrypto.ProofOps, error) {
	b, err := p.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal proof: %w", err)
	}
	return &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpType, Key: key, Data: b}}}, nil
}

// VerifyProofOps checks a query result (key, value; value nil for absence)
// against an app hash.
func VerifyProofOps(appHash []byte, ops *cmtcrypto.ProofOps, key, value []byte) error {
	if ops == nil || len(ops.Ops) != 1 || ops.Ops[0].Type != ProofOpType {
		return fmt.Errorf("want one %s proof op", ProofOpType)
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(ops.Ops[0].Data); err != nil {
		return fmt.Errorf("decode proof: %w", err)
	}
	return merkle.VerifyProof(appHash, &p, key, value)
}
