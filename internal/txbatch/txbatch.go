// Package txbatch is the body of POST /v1/txs/batch: raw transactions, each
// preceded by its length as a minimal unsigned varint, concatenated. The
// encoding has no header and no trailer, so a client can stream it and the
// node can decode it without JSON or base64. Decoding is strict: no empty
// transactions, no non-minimal lengths, no trailing bytes, and bounded counts
// and sizes.
package txbatch

import (
	"errors"
	"fmt"

	"github.com/medchain/medchain/codec"
)

// Limits of one batch.
const (
	// MaxTxs is the most transactions one batch may carry.
	MaxTxs = 1000
	// MaxBodyBytes bounds a whole batch body (1000 transactions of about
	// 16 KiB; typical transactions are well under 1 KiB).
	MaxBodyBytes = 16 << 20
)

// Errors of Decode.
var (
	ErrEmpty     = errors.New("batch: no transactions")
	ErrTooMany   = errors.New("batch: too many transactions")
	ErrEmptyTx   = errors.New("batch: empty transaction")
	ErrMalformed = errors.New("batch: malformed body")
)

// Append appends one length-prefixed transaction to dst.
func Append(dst, tx []byte) []byte {
	w := codec.NewWriter(0)
	w.Blob(tx)
	return append(dst, w.Bytes()...)
}

// Encode concatenates the length-prefixed transactions.
func Encode(txs [][]byte) []byte {
	n := 0
	for _, tx := range txs {
		n += len(tx) + 3
	}
	w := codec.NewWriter(n)
	for _, tx := range txs {
		w.Blob(tx)
	}
	return w.Bytes()
}

// Decode splits a batch body into its transactions. maxTxBytes bounds each
// transaction (the node passes the mempool's limit); the count is bounded by
// MaxTxs.
func Decode(body []byte, maxTxBytes int) ([][]byte, error) {
	if len(body) == 0 {
		return nil, ErrEmpty
	}
	r := codec.NewReader(body)
	var txs [][]byte
	for r.Remaining() > 0 {
		if len(txs) == MaxTxs {
			return nil, fmt.Errorf("%w: more than %d", ErrTooMany, MaxTxs)
		}
		tx := r.Blob("tx", maxTxBytes)
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("%w: tx %d: %v", ErrMalformed, len(txs), err)
		}
		if len(tx) == 0 {
			return nil, fmt.Errorf("%w: tx %d", ErrEmptyTx, len(txs))
		}
		txs = append(txs, tx)
	}
	return txs, nil
}
