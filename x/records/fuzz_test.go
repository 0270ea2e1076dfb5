package records_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medchain/medchain/sm/smtest"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// seedMsgs are valid messages of every route, the seeds of FuzzDecode.
func seedMsgs() []sm.Msg {
	return []sm.Msg{
		add(rid(1), "v1"),
		&records.MsgAdd{ID: rid(2), Patient: addr(bob), ResourceType: "DiagnosticReport", ContentHash: hash("r"), Size: records.MaxBlobBytes,
			Keys: keysFor(acct(bob), consent.Org(orgA))},
		&records.MsgShare{ID: rid(1), Version: 3, Keys: keysFor(acct(doctorA), consent.Org(orgB))},
		&records.MsgErase{ID: rid(1)},
		&records.MsgRewrap{Keys: []records.Rekey{{ID: rid(1), Version: 1, Enc: [32]byte{1}, CT: [48]byte{2}}, {ID: rid(1), Version: 2}}},
		&records.MsgSessionKeys{Session: [32]byte{9}, Keys: []records.Rekey{{ID: rid(2), Version: 3}}},
	}
}

// FuzzDecode runs every decoder of the module on the same bytes: the decoder
// of every route and the stored-state decoders. None may panic; whatever
// decodes must re-encode to exactly the input, and a message decoder fails
// only with ErrTxDecode.
func FuzzDecode(f *testing.F) {
	for _, m := range seedMsgs() {
		f.Add(codec.Marshal(m))
	}
	f.Add(codec.Marshal(&records.Record{ID: rid(1), Patient: addr(alice), Type: "Observation", Version: 2, Created: 5, Erased: 9}))
	f.Add(codec.Marshal(&records.Version{Record: rid(1), Version: 2, Author: addr(techB), ContentHash: hash("x"), Size: 10, Created: 7}))
	routes := (records.Module{}).Routes()
	f.Fuzz(func(t *testing.T, b []byte) {
		smtest.FuzzRoutes(t, routes, b)
		smtest.FuzzCanonical(t, "record", b, records.DecodeRecord)
		smtest.FuzzCanonical(t, "version", b, records.DecodeVersion)
	})
}

// TestDecodeRejectsWideValues: a version is a uint32; a wider varint must
// not decode (it would read as another version and re-encode differently).
func TestDecodeRejectsWideValues(t *testing.T) {
	id := rid(1)
	share := func(version []byte) []byte {
		b := append(id[:], version...)
		k := wk(acct(doctorA))
		return append(append(b, 1), codec.Marshal(&k)...) // one key
	}
	route := (records.Module{}).Routes()[1]
	if m, err := route.Decode(share([]byte{1})); err != nil || m.(*records.MsgShare).Version != 1 {
		t.Fatalf("version 1: %+v, %v", m, err)
	}
	// 1<<32 | 1 would read as version 1.
	if m, err := route.Decode(share([]byte{0x81, 0x80, 0x80, 0x80, 0x10})); !errors.Is(err, sm.ErrTxDecode) {
		t.Fatalf("version 1<<32+1: %+v, %v; want ErrTxDecode", m, err)
	}
	rec := codec.Marshal(&records.Record{ID: id, Patient: addr(alice), Type: "Observation", Version: 1})
	wide := bytes.Replace(rec, []byte{11, 'O', 'b', 's', 'e', 'r', 'v', 'a', 't', 'i', 'o', 'n', 1}, []byte{11, 'O', 'b', 's', 'e', 'r', 'v', 'a', 't', 'i', 'o', 'n', 0x81, 0x80, 0x80, 0x80, 0x10}, 1)
	if r, err := records.DecodeRecord(wide); err == nil {
		t.Fatalf("stored record with a 33-bit version decoded: %+v", r)
	}
}
