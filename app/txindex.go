package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
)

// The transaction index: every executed transaction's outcome by hash, and
// the successful ones by signer. It is written with each commit, in the same
// synced batch as the state (merkle.Side), so a block's transactions are
// findable exactly when its state is committed, after a crash too. It is a
// node's local view, outside the Merkle tree and the app hash.
//
// It replaces CometBFT's kv transaction indexer, which indexed CometBFT's
// transactions (a bundle is one of those, not the transactions in it), wrote
// each transaction's bytes and results a second time, and on this workload
// caused most of the node's database compaction (docs/performance.md).
//
// Key space (under the tree's side prefix). Entries are keyed by position,
// so a block's are adjacent (one range read serves a block) and the index
// is written in key order, as an append:
//
//	'b' ‖ height (8, BE) ‖ index (4, BE)                 → entry
//	't' ‖ tx hash (32)                                  → height (8) ‖ index (4)
//	'a' ‖ signer (20) ‖ height (8, BE) ‖ index (4, BE)   → (empty)
var (
	idxBlock  = byte('b')
	idxTx     = byte('t')
	idxSigner = byte('a')
)

// Index entry limits (decoding).
const (
	maxIndexedLog    = 64 << 10
	maxIndexedEvents = 1024
	maxIndexedAttrs  = 256
	maxIndexedField  = 64 << 10
)

func posKey(prefix byte, height int64, index int) []byte {
	k := make([]byte, 0, 13)
	k = append(k, prefix)
	k = binary.BigEndian.AppendUint64(k, uint64(height))
	return binary.BigEndian.AppendUint32(k, uint32(index))
}

func txKey(h [32]byte) []byte { return append([]byte{idxTx}, h[:]...) }

func signerKey(a crypto.Address, height int64, index int) []byte {
	k := make([]byte, 0, 1+crypto.AddressSize+12)
	k = append(k, idxSigner)
	k = append(k, a[:]...)
	k = binary.BigEndian.AppendUint64(k, uint64(height))
	return binary.BigEndian.AppendUint32(k, uint32(index))
}

// messageEvent is the event deliver emits first for every transaction that
// succeeds; the index does not store it, since the entry's own fields give
// it back exactly.
func messageEvent(r *TxResult) sm.Event {
	return sm.Event{Type: "message", Attrs: []sm.Attr{
		{Key: "type", Value: r.Type},
		{Key: "signer", Value: r.Signer.String()},
		{Key: "sequence", Value: strconv.FormatUint(r.Sequence, 10)},
	}}
}

func sameEvent(a, b sm.Event) bool {
	if a.Type != b.Type || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for i := range a.Attrs {
		if a.Attrs[i] != b.Attrs[i] {
			return false
		}
	}
	return true
}

func encodeIndexed(r *TxResult) []byte {
	w := codec.NewWriter(128)
	w.Fixed(r.Hash[:])
	w.Uint(uint64(r.Code))
	w.String(r.Codespace)
	w.String(r.Log)
	w.String(r.Type)
	w.Bool(r.HasSigner)
	w.Fixed(r.Signer[:])
	w.Uint(r.Sequence)
	events := r.Events
	implied := r.HasSigner && len(events) > 0 && sameEvent(events[0], messageEvent(r))
	if implied {
		events = events[1:]
	}
	w.Bool(implied)
	w.Uint(uint64(len(events)))
	for _, e := range events {
		w.String(e.Type)
		w.Uint(uint64(len(e.Attrs)))
		for _, a := range e.Attrs {
			w.String(a.Key)
			w.String(a.Value)
		}
	}
	return w.Bytes()
}

func decodeIndexed(height int64, index int, b []byte) (*TxResult, error) {
	r := codec.NewReader(b)
	out := &TxResult{Height: height, Index: index}
	r.Into("hash", out.Hash[:])
	out.Code = uint32(r.Uint("code"))
	out.Codespace = r.String("codespace", maxIndexedField)
	out.Log = r.String("log", maxIndexedLog)
	out.Type = r.String("type", maxIndexedField)
	out.HasSigner = r.Bool("has signer")
	r.Into("signer", out.Signer[:])
	out.Sequence = r.Uint("sequence")
	if r.Bool("message event") {
		out.Events = append(out.Events, messageEvent(out))
	}
	n := r.Count("events", maxIndexedEvents)
	for i := 0; i < n && r.Err() == nil; i++ {
		e := sm.Event{Type: r.String("event type", maxIndexedField)}
		na := r.Count("attributes", maxIndexedAttrs)
		for j := 0; j < na && r.Err() == nil; j++ {
			e.Attrs = append(e.Attrs, sm.Attr{Key: r.String("key", maxIndexedField), Value: r.String("value", maxIndexedField)})
		}
		out.Events = append(out.Events, e)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("transaction index entry at %d/%d: %v", height, index, err)
	}
	return out, nil
}

// indexWrites are the index entries of a block's results.
func indexWrites(results []TxResult) []merkle.Side {
	out := make([]merkle.Side, 0, 3*len(results))
	for i := range results {
		r := &results[i]
		pos := posKey(idxBlock, r.Height, r.Index)
		out = append(out,
			merkle.Side{Key: pos, Value: encodeIndexed(r)},
			merkle.Side{Key: txKey(r.Hash), Value: pos[1:]})
		if r.Code == 0 && r.HasSigner {
			out = append(out, merkle.Side{Key: signerKey(r.Signer, r.Height, r.Index), Value: []byte{}})
		}
	}
	return out
}

func (a *App) indexedAt(pos []byte) (*TxResult, error) {
	v, err := a.tree.SideGet(append([]byte{idxBlock}, pos...))
	if err != nil || v == nil {
		return nil, err
	}
	return decodeIndexed(int64(binary.BigEndian.Uint64(pos)), int(binary.BigEndian.Uint32(pos[8:])), v)
}

// IndexedTx returns a committed transaction's outcome, or nil if no
// committed block holds it.
func (a *App) IndexedTx(h [32]byte) (*TxResult, error) {
	pos, err := a.tree.SideGet(txKey(h))
	if err != nil || pos == nil {
		return nil, err
	}
	if len(pos) != 12 {
		return nil, fmt.Errorf("transaction index: entry of %x is %d bytes", h, len(pos))
	}
	return a.indexedAt(pos)
}

// BlockTxs returns the outcomes of a committed block's transactions, in
// order, each bundled transaction on its own.
func (a *App) BlockTxs(height int64) ([]*TxResult, error) {
	lo := binary.BigEndian.AppendUint64([]byte{idxBlock}, uint64(height))
	var out []*TxResult
	var derr error
	err := a.tree.SideIterate(lo, store.PrefixEnd(lo), func(k, v []byte) bool {
		var r *TxResult
		r, derr = decodeIndexed(height, int(binary.BigEndian.Uint32(k[9:])), v)
		out = append(out, r)
		return derr == nil
	})
	return out, errors.Join(err, derr)
}

// TxsBySigner lists a signer's successful committed transactions, oldest
// first: page (from 1) of perPage, and how many there are in all.
func (a *App) TxsBySigner(signer crypto.Address, page, perPage int) ([]*TxResult, int, error) {
	if page < 1 || perPage < 1 {
		return nil, 0, fmt.Errorf("page %d, per page %d: both must be at least 1", page, perPage)
	}
	lo := append([]byte{idxSigner}, signer[:]...)
	skip := (page - 1) * perPage
	var positions [][]byte
	total := 0
	err := a.tree.SideIterate(lo, store.PrefixEnd(lo), func(k, _ []byte) bool {
		if total >= skip && len(positions) < perPage {
			positions = append(positions, bytes.Clone(k[len(lo):]))
		}
		total++
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]*TxResult, 0, len(positions))
	for _, pos := range positions {
		r, err := a.indexedAt(pos)
		if err != nil {
			return nil, 0, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, total, nil
}
