package sm_test

import (
	"testing"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// benchRecordTx is a records/add with one wrapped key, the most common
// transaction of the bench mix (about 330 bytes).
func benchRecordTx(b *testing.B) []byte {
	b.Helper()
	k, err := crypto.KeyFromSeeds(make([]byte, 32), make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	m := &records.MsgAdd{ID: consent.RecordID{1}, Patient: k.Address(), ResourceType: "Observation", ContentHash: [32]byte{2}, Size: 600,
		Keys: []records.WrappedKey{{Recipient: consent.Account(k.Address())}}}
	return sm.SignTx(k, "medchain-bench", 7, 0, m)
}

// BenchmarkDecodeTx measures the strict decoding of a transaction envelope.
func BenchmarkDecodeTx(b *testing.B) {
	raw := benchRecordTx(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sm.DecodeTx(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTxAndMsg adds the message's decoding through the router.
func BenchmarkDecodeTxAndMsg(b *testing.B) {
	raw := benchRecordTx(b)
	r := sm.NewRouter(records.Module{})
	b.ReportAllocs()
	for b.Loop() {
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.DecodeMsg(tx.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxHash is the SHA-256 CometBFT and the app name transactions by.
func BenchmarkTxHash(b *testing.B) {
	raw := benchRecordTx(b)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		sm.TxHash(raw)
	}
}
