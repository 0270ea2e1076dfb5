package node

import "github.com/medchain/medchain/crypto"

// PendingSequence implements api.PendingSequencer: the next sequence of
// signer counting its transactions in this node's mempool.
func (n *Node) PendingSequence(signer crypto.Address) (uint64, bool) {
	return n.app.Mempool().PendingSequence(signer)
}
