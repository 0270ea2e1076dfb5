package app

import "github.com/medchain/medchain/crypto"

// PendingSequence returns the sequence signer's next transaction must carry
// counting the transactions of signer that CheckTx accepted into this
// node's mempool, and whether there are any. Clients sign with it so that a
// second command sent while the first is pending does not reuse its
// sequence. It is a hint, not state: just after a commit, until CometBFT's
// rechecks rebuild it, it may lag behind the mempool (a client retries the
// sequence race once).
func (m *Mempool) PendingSequence(signer crypto.Address) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Next(signer)
}
