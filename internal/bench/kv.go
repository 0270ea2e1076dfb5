package bench

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// KV generates CometBFT kvstore transactions: "key=value", Size bytes in
// all, every key new. It implements Generator.
type KV struct {
	size  int
	run   [4]byte // distinguishes this run's keys from earlier runs'
	lanes []kvLane
}

type kvLane struct {
	rng *rand.Rand
	n   uint64
}

// kvKeyLen is the key's length: run id, lane and counter in hex.
const kvKeyLen = 8 + 4 + 12

// NewKV returns a generator of size-byte transactions for lanes lanes.
func NewKV(size, lanes int) *KV {
	size = max(size, kvKeyLen+2)
	k := &KV{size: size}
	_, _ = cryptorand.Read(k.run[:])
	for range lanes {
		var seed [32]byte
		_, _ = cryptorand.Read(seed[:])
		k.lanes = append(k.lanes, kvLane{rng: rand.New(rand.NewChaCha8(seed))})
	}
	return k
}

func (k *KV) Next(lane int, _ time.Time) *Tx {
	l := &k.lanes[lane]
	l.n++
	raw := make([]byte, 0, k.size)
	raw = hex.AppendEncode(raw, k.run[:])
	raw = hex.AppendEncode(raw, binary.BigEndian.AppendUint16(nil, uint16(lane)))
	raw = hex.AppendEncode(raw, binary.BigEndian.AppendUint64(nil, l.n)[2:])
	raw = append(raw, '=')
	var buf [8]byte
	for len(raw) < k.size {
		binary.LittleEndian.PutUint64(buf[:], l.rng.Uint64())
		raw = hex.AppendEncode(raw, buf[:])
	}
	return newTx(raw[:k.size], "kvstore", nil)
}

func (k *KV) Rejected(*Tx)            {}
func (k *KV) Committed(*Tx, *BlockTx) {}
