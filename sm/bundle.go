package sm

import (
	"github.com/medchain/medchain/codec"
)

// A bundle carries several signed transactions in one CometBFT transaction.
// CometBFT's costs are per transaction it handles (mempool entry, cache,
// gossip message, recheck call, block hashing, event publication), so a node
// packs the transactions it takes in through its API into bundles. A bundle
// is only transport: it is not signed, each transaction in it is
// authenticated, sequenced and executed as if it came alone, and a
// transaction counts once whether or not it came in a bundle.
//
// Wire form: the format byte TxFormatBundle, then each transaction preceded
// by its length as a minimal unsigned varint. A bundle holds at least one and
// at most MaxBundleTxs transactions and is at most MaxBundleBytes long.
const (
	TxFormatBundle = 0x02
	MaxBundleTxs   = 4096
	MaxBundleBytes = 1 << 20
)

// PackBytes is the size of the bundles a node builds, from its intake and
// when it repacks a proposal: small enough that a 4 MiB block holds many
// and a rechecked bundle is cheap, large enough that CometBFT's
// per-transaction costs (mempool entry, gossip message, block hashing) are
// shared by about a thousand transactions.
const PackBytes = 256 << 10

// IsBundle tells whether raw is in the bundle wire form (it may still be
// malformed).
func IsBundle(raw []byte) bool { return len(raw) > 0 && raw[0] == TxFormatBundle }

// EncodeBundle packs transactions. The caller keeps within the limits.
func EncodeBundle(txs [][]byte) []byte {
	n := 1
	for _, tx := range txs {
		n += len(tx) + 3
	}
	w := codec.NewWriter(n)
	w.Fixed([]byte{TxFormatBundle})
	for _, tx := range txs {
		w.Blob(tx)
	}
	return w.Bytes()
}

// BlockBytes is how many bytes tx takes in a block's data as CometBFT
// counts a proposal against MaxTxBytes: its protobuf field tag and length,
// then the transaction.
func BlockBytes(tx []byte) int64 { return blockBytes(len(tx)) }

func blockBytes(n int) int64 { return int64(1 + uvarintLen(uint64(n)) + n) }

// PackBundles packs txs, in order, into bundles of at most maxBundle bytes
// (MaxBundleBytes when maxBundle is out of range) and MaxBundleTxs
// transactions each. With maxTotal > 0 it stops before the first
// transaction that would take the bundles' total BlockBytes over maxTotal
// (a proposal over CometBFT's MaxTxBytes stops the proposer).
// sizes[i] is how many transactions bundles[i] holds; their sum is how many
// of txs were packed.
func PackBundles(txs [][]byte, maxBundle int, maxTotal int64) (bundles [][]byte, sizes []int) {
	if maxBundle <= 1 || maxBundle > MaxBundleBytes {
		maxBundle = MaxBundleBytes
	}
	start, size := 0, 1 // the open bundle: txs[start:i], size bytes
	var total int64     // of the closed bundles
	flush := func(i int) {
		if i > start {
			bundles = append(bundles, EncodeBundle(txs[start:i]))
			sizes = append(sizes, i-start)
			total += blockBytes(size)
		}
		start, size = i, 1
	}
	for i, tx := range txs {
		add := uvarintLen(uint64(len(tx))) + len(tx)
		if size+add > maxBundle || i-start == MaxBundleTxs {
			flush(i)
		}
		if maxTotal > 0 && total+blockBytes(size+add) > maxTotal {
			flush(i)
			return bundles, sizes
		}
		size += add
	}
	flush(len(txs))
	return bundles, sizes
}

// DecodeBundle splits a bundle into its transactions. It is strict: a wrong
// format byte, an empty bundle or transaction, a non-minimal length, a
// transaction over MaxTxBytes, trailing bytes or more than MaxBundleTxs
// transactions are all ErrTxDecode; a bundle over MaxBundleBytes is
// ErrTxTooLarge.
func DecodeBundle(raw []byte) ([][]byte, error) {
	if len(raw) > MaxBundleBytes {
		return nil, Wrapf(ErrTxTooLarge, "bundle of %d bytes, limit %d", len(raw), MaxBundleBytes)
	}
	if !IsBundle(raw) {
		return nil, Wrapf(ErrTxDecode, "not a bundle")
	}
	r := codec.NewReader(raw[1:])
	var txs [][]byte
	for r.Remaining() > 0 {
		if len(txs) == MaxBundleTxs {
			return nil, Wrapf(ErrTxDecode, "bundle holds more than %d transactions", MaxBundleTxs)
		}
		tx := r.Blob("bundled tx", MaxTxBytes)
		if err := r.Err(); err != nil {
			return nil, Wrapf(ErrTxDecode, "bundle: transaction %d: %v", len(txs), err)
		}
		if len(tx) == 0 {
			return nil, Wrapf(ErrTxDecode, "bundle: transaction %d is empty", len(txs))
		}
		txs = append(txs, tx)
	}
	if len(txs) == 0 {
		return nil, Wrapf(ErrTxDecode, "empty bundle")
	}
	return txs, nil
}

// BundleResult is one bundled transaction's outcome, as recorded in the
// bundle's ExecTxResult data (and so in the next header's results hash).
type BundleResult struct {
	Code      uint32
	Codespace string
}

// EncodeBundleResults is the data of a bundle's ExecTxResult: for each
// transaction, its code and codespace.
func EncodeBundleResults(rs []BundleResult) []byte {
	w := codec.NewWriter(len(rs) * 2)
	w.Uint(uint64(len(rs)))
	for _, r := range rs {
		w.Uint(uint64(r.Code))
		w.String(r.Codespace)
	}
	return w.Bytes()
}

// DecodeBundleResults reverses EncodeBundleResults.
func DecodeBundleResults(b []byte) ([]BundleResult, error) {
	r := codec.NewReader(b)
	n := r.Count("results", MaxBundleTxs)
	out := make([]BundleResult, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		code := r.Uint("code")
		out = append(out, BundleResult{Code: uint32(code), Codespace: r.String("codespace", 64)})
	}
	if err := r.Done(); err != nil {
		return nil, Wrapf(ErrTxDecode, "bundle results: %v", err)
	}
	return out, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
