package txbatch

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		txs  [][]byte
	}{
		{name: "one byte", txs: [][]byte{{1}}},
		{name: "several sizes", txs: [][]byte{{1, 2, 3}, bytes.Repeat([]byte{7}, 127), bytes.Repeat([]byte{8}, 128), bytes.Repeat([]byte{9}, 70_000)}},
		{name: "the most transactions", txs: repeatTx([]byte("k=v"), MaxTxs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := Encode(tc.txs)
			var appended []byte
			for _, tx := range tc.txs {
				appended = Append(appended, tx)
			}
			if !bytes.Equal(body, appended) {
				t.Fatal("Encode and Append disagree")
			}
			got, err := Decode(body, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.txs) {
				t.Fatalf("%d txs, want %d", len(got), len(tc.txs))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.txs[i]) {
					t.Fatalf("tx %d differs", i)
				}
			}
		})
	}
}

func repeatTx(tx []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = tx
	}
	return out
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		max     int
		wantErr error
	}{
		{name: "empty body", body: nil, max: 100, wantErr: ErrEmpty},
		{name: "empty transaction", body: []byte{0}, max: 100, wantErr: ErrEmptyTx},
		{name: "truncated transaction", body: []byte{3, 1, 2}, max: 100, wantErr: ErrMalformed},
		{name: "truncated length", body: []byte{0x80}, max: 100, wantErr: ErrMalformed},
		{name: "non-minimal length", body: []byte{0x81, 0x00, 1}, max: 100, wantErr: ErrMalformed},
		{name: "transaction over the limit", body: Encode([][]byte{{1, 2, 3}}), max: 2, wantErr: ErrMalformed},
		{name: "too many transactions", body: Encode(repeatTx([]byte{1}, MaxTxs+1)), max: 100, wantErr: ErrTooMany},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.body, tc.max)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// FuzzDecode checks that whatever Decode accepts re-encodes to the same
// bytes (the encoding is canonical) and respects the limits.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0x81, 0x00, 1})
	f.Add(Encode([][]byte{[]byte("a=b")}))
	f.Add(Encode([][]byte{{1}, bytes.Repeat([]byte{2}, 200), {3, 4}}))
	f.Add(append(Encode([][]byte{{1}}), 5))
	f.Fuzz(func(t *testing.T, body []byte) {
		txs, err := Decode(body, 4096)
		if err != nil {
			return
		}
		if len(txs) == 0 || len(txs) > MaxTxs {
			t.Fatalf("accepted %d txs", len(txs))
		}
		for _, tx := range txs {
			if len(tx) == 0 || len(tx) > 4096 {
				t.Fatalf("accepted a tx of %d bytes", len(tx))
			}
		}
		if !bytes.Equal(Encode(txs), body) {
			t.Fatal("accepted a body that does not re-encode to itself")
		}
	})
}
