package lightproof

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/store/merkle"
)

// memState commits a few keys to a memory tree and returns its snapshot.
func memState(t testing.TB) *merkle.Snapshot {
	t.Helper()
	tr := merkle.NewMemTree()
	t.Cleanup(func() { tr.Close() })
	for i := range 20 {
		tr.Set(fmt.Appendf(nil, "key-%02d", 2*i), fmt.Appendf(nil, "value-%d", i))
	}
	if _, _, err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	snap, err := tr.Snapshot(tr.Version())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func prove(t testing.TB, snap *merkle.Snapshot, key string) *api.Proof {
	t.Helper()
	p, err := api.BuildProof(snap, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyAgainstHeader(t *testing.T) {
	snap := memState(t)
	root := snap.Hash()
	present := func() *api.Proof { return prove(t, snap, "key-04") }
	absent := func() *api.Proof { return prove(t, snap, "key-05") }

	tests := []struct {
		name    string
		proof   func() *api.Proof
		root    []byte
		key     string
		want    []byte
		wantErr error // nil: verifies; errAny: any error
	}{
		{name: "membership", proof: present, key: "key-04"},
		{name: "membership with the expected value", proof: present, key: "key-04", want: []byte("value-2")},
		{name: "non-membership", proof: absent, key: "key-05"},
		{name: "non-membership of a key after the last", proof: func() *api.Proof { return prove(t, snap, "zzz") }, key: "zzz"},
		{name: "non-membership of a key before the first", proof: func() *api.Proof { return prove(t, snap, "a") }, key: "a"},
		{name: "other app hash", proof: present, key: "key-04", root: bytes.Repeat([]byte{1}, 32), wantErr: ErrNotProven},
		{name: "absence against other app hash", proof: absent, key: "key-05", root: bytes.Repeat([]byte{1}, 32), wantErr: ErrNotProven},
		{name: "asked about another key", proof: present, key: "key-06", wantErr: ErrKeyMismatch},
		{name: "key rewritten to the asked one", key: "key-06", wantErr: ErrNotProven, proof: func() *api.Proof {
			p := present()
			p.Key = hex.EncodeToString([]byte("key-06"))
			return p
		}},
		{name: "value altered", key: "key-04", wantErr: ErrNotProven, proof: func() *api.Proof {
			p := present()
			p.Value = []byte("value-X")
			return p
		}},
		{name: "unexpected value", proof: present, key: "key-04", want: []byte("value-3"), wantErr: ErrValueMismatch},
		{name: "value expected, absence proven", proof: absent, key: "key-05", want: []byte("v"), wantErr: ErrValueMismatch},
		{name: "membership claimed as absence", key: "key-04", wantErr: ErrNotProven, proof: func() *api.Proof {
			p := present()
			p.Exists, p.Value = false, nil
			return p
		}},
		{name: "absence claimed as membership", key: "key-05", wantErr: ErrNotProven, proof: func() *api.Proof {
			p := absent()
			p.Exists, p.Value = true, []byte("value-2")
			return p
		}},
		{name: "value with exists=false", key: "key-05", wantErr: ErrMalformed, proof: func() *api.Proof {
			p := absent()
			p.Value = []byte("x")
			return p
		}},
		{name: "empty proof", key: "key-04", wantErr: ErrMalformed, proof: func() *api.Proof {
			p := present()
			p.Proof = nil
			return p
		}},
		{name: "oversized proof", key: "key-04", wantErr: ErrMalformed, proof: func() *api.Proof {
			p := present()
			p.Proof = make([]byte, MaxProofBytes+1)
			return p
		}},
		{name: "truncated proof", key: "key-04", wantErr: ErrMalformed, proof: func() *api.Proof {
			p := present()
			p.Proof = p.Proof[:len(p.Proof)/2]
			return p
		}},
		{name: "key not hex", key: "key-04", wantErr: ErrMalformed, proof: func() *api.Proof {
			p := present()
			p.Key = "zz"
			return p
		}},
		{name: "membership proof used for a missing key", key: "key-05", wantErr: ErrNotProven, proof: func() *api.Proof {
			p := present()
			p.Key, p.Exists, p.Value = hex.EncodeToString([]byte("key-05")), false, nil
			return p
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := root
			if tc.root != nil {
				r = tc.root
			}
			err := VerifyAgainstHeader(r, tc.proof(), []byte(tc.key), tc.want)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("want %v, got %v", tc.wantErr, err)
			}
		})
	}
}

// Every single-byte change of the encoded proof must be rejected.
func TestVerifyAgainstHeaderRejectsEveryFlippedByte(t *testing.T) {
	snap := memState(t)
	for _, key := range []string{"key-04", "key-05"} {
		p := prove(t, snap, key)
		orig := p.Proof
		for i := range orig {
			p.Proof = bytes.Clone(orig)
			p.Proof[i] ^= 0x01
			if err := VerifyAgainstHeader(snap.Hash(), p, []byte(key), nil); err == nil {
				t.Errorf("%s: proof with byte %d flipped verifies", key, i)
			}
		}
	}
}

func FuzzVerifyAgainstHeader(f *testing.F) {
	snap := memState(f)
	for _, k := range []string{"key-04", "key-05", "a", "zzz"} {
		p := prove(f, snap, k)
		f.Add([]byte(k), p.Proof, p.Value, p.Exists)
	}
	f.Fuzz(func(t *testing.T, key, proof, value []byte, exists bool) {
		p := &api.Proof{Height: 1, Key: hex.EncodeToString(key), Value: value, Exists: exists, Proof: proof}
		_ = VerifyAgainstHeader(snap.Hash(), p, key, nil) // must not panic
	})
}
