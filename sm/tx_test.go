package sm_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

func testKey(t testing.TB, b byte) *crypto.PrivKey {
	t.Helper()
	k, err := crypto.KeyFromSeeds(bytes.Repeat([]byte{b}, 32), bytes.Repeat([]byte{b + 1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// msgNote is a message for tests: a note with a length limit.
type msgNote struct{ Text string }

func (m *msgNote) Type() string           { return "test/note" }
func (m *msgNote) Encode(w *codec.Writer) { w.String(m.Text) }
func (m *msgNote) ValidateBasic() error {
	if m.Text == "" {
		return sm.Wrapf(sm.ErrInvalidMsg, "empty note")
	}
	return nil
}

func decodeNote(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *msgNote { return &msgNote{Text: r.String("text", 16)} })
}

func TestSignAndDecodeTx(t *testing.T) {
	key := testKey(t, 1)
	raw := sm.SignTx(key, "medchain-test", 7, 3, &msgNote{Text: "hello"})
	tx, err := sm.DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := sm.Body{ChainID: "medchain-test", Signer: key.PubKey(), Sequence: 7, Fee: 3, Type: "test/note", Msg: codec.Marshal(&msgNote{Text: "hello"})}
	if tx.Body.ChainID != want.ChainID || tx.Body.Signer != want.Signer || tx.Body.Sequence != 7 || tx.Body.Fee != 3 ||
		tx.Body.Type != want.Type || !bytes.Equal(tx.Body.Msg, want.Msg) {
		t.Fatalf("decoded body = %+v, want %+v", tx.Body, want)
	}
	if !bytes.Equal(tx.BodyBytes, codec.Marshal(want)) {
		t.Fatalf("BodyBytes = %x, want %x", tx.BodyBytes, codec.Marshal(want))
	}
	if tx.Signer() != key.Address() {
		t.Fatalf("Signer = %s, want %s", tx.Signer(), key.Address())
	}
	if !crypto.Verify(key.PubKey(), sm.SignBytes(tx.BodyBytes), tx.Sig) {
		t.Fatal("signature does not verify over SignBytes(body)")
	}
	if crypto.Verify(key.PubKey(), tx.BodyBytes, tx.Sig) {
		t.Fatal("signature verifies over the bare body: the domain tag is missing")
	}
	if !bytes.Equal(sm.EncodeTx(tx.BodyBytes, tx.Sig), raw) {
		t.Fatal("EncodeTx(decoded) differs from the original bytes")
	}
	if sm.TxHash(raw) != codec.Hash(raw) {
		t.Fatal("TxHash is not SHA-256 of the encoded tx")
	}
	if s := tx.String(); !strings.Contains(s, "seq=7") || !strings.Contains(s, "test/note") {
		t.Fatalf("String() = %q", s)
	}
}

// TestTxWireFormat pins the byte layout of a transaction (docs/transactions.md).
func TestTxWireFormat(t *testing.T) {
	var signer crypto.PubKey
	for i := range signer {
		signer[i] = byte(i)
	}
	body := codec.Marshal(sm.Body{ChainID: "c", Signer: signer, Sequence: 300, Fee: 0, Type: "a/b", Msg: []byte{0xee}})
	want := "0163" + hex.EncodeToString(signer[:]) + "ac02" + "00" + "03612f62" + "01ee"
	if got := hex.EncodeToString(body); got != want {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
	if got := string(sm.SignBytes([]byte{1, 2})); got != "medchain/tx/v1\x00\x01\x02" {
		t.Fatalf("SignBytes = %q", got)
	}
	sig := bytes.Repeat([]byte{0x55}, crypto.SignatureSize)
	raw := sm.EncodeTx(body, sig)
	wantRaw := append(append([]byte{sm.TxFormatV1, byte(len(body))}, body...), sig...)
	if !bytes.Equal(raw, wantRaw) {
		t.Fatalf("EncodeTx = %x\nwant       %x", raw, wantRaw)
	}
}

// rawTx builds a transaction from parts, with a garbage signature unless given.
func rawTx(body sm.Body, sig []byte) []byte {
	if sig == nil {
		sig = make([]byte, crypto.SignatureSize)
	}
	return sm.EncodeTx(codec.Marshal(body), sig)
}

func TestDecodeTxRejects(t *testing.T) {
	good := sm.Body{ChainID: "medchain-test", Sequence: 1, Type: "test/note", Msg: []byte{1, 'x'}}
	goodRaw := rawTx(good, nil)
	withBody := func(b []byte) []byte { return sm.EncodeTx(b, make([]byte, 64)) }
	bodyBytes := codec.Marshal(good)

	tests := []struct {
		name    string
		raw     []byte
		wantErr error
	}{
		{"empty", nil, sm.ErrTxDecode},
		{"version only", []byte{sm.TxFormatV1}, sm.ErrTxDecode},
		{"unknown version", append([]byte{0x02}, goodRaw[1:]...), sm.ErrTxDecode},
		{"version zero", append([]byte{0x00}, goodRaw[1:]...), sm.ErrTxDecode},
		{"short signature", goodRaw[:len(goodRaw)-1], sm.ErrTxDecode},
		{"trailing byte", append(bytes.Clone(goodRaw), 0), sm.ErrTxDecode},
		{"body truncated", withBody(bodyBytes[:len(bodyBytes)-1]), sm.ErrTxDecode},
		{"body trailing byte", withBody(append(bytes.Clone(bodyBytes), 0)), sm.ErrTxDecode},
		{"chain id too long", rawTx(sm.Body{ChainID: strings.Repeat("c", sm.MaxChainIDLen+1), Type: "t/t"}, nil), sm.ErrTxDecode},
		{"type too long", rawTx(sm.Body{ChainID: "c", Type: strings.Repeat("t", sm.MaxTypeLen+1)}, nil), sm.ErrTxDecode},
		{"chain id not utf8", rawTx(sm.Body{ChainID: "\xff", Type: "t/t"}, nil), sm.ErrTxDecode},
		{"non-minimal sequence", withBody(nonMinimalSequence(t, bodyBytes)), sm.ErrTxDecode},
		{"non-minimal body length", append([]byte{sm.TxFormatV1, 0x80 | byte(len(bodyBytes)), 0x00}, append(bytes.Clone(bodyBytes), make([]byte, 64)...)...), sm.ErrTxDecode},
		{"too large", make([]byte, sm.MaxTxBytes+1), sm.ErrTxTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := sm.DecodeTx(tt.raw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeTx = %v, %v; want %v", tx, err, tt.wantErr)
			}
			if tx != nil {
				t.Fatal("a rejected tx was returned")
			}
			code, space, _ := sm.ABCIInfo(err)
			want := tt.wantErr.(*sm.Error)
			if code != want.Code || space != want.Codespace {
				t.Fatalf("ABCIInfo = %d/%s, want %d/%s", code, space, want.Code, want.Codespace)
			}
		})
	}
	if _, err := sm.DecodeTx(goodRaw); err != nil {
		t.Fatalf("the unmodified tx is rejected: %v", err)
	}
}

// nonMinimalSequence rewrites the one-byte sequence field of body as two bytes.
func nonMinimalSequence(t *testing.T, body []byte) []byte {
	t.Helper()
	r := codec.NewReader(body)
	r.String("chain_id", sm.MaxChainIDLen)
	r.Fixed("signer", 32)
	off := len(body) - r.Remaining()
	if body[off] >= 0x80 {
		t.Fatal("sequence is not one byte")
	}
	out := append(bytes.Clone(body[:off]), body[off]|0x80, 0x00)
	return append(out, body[off+1:]...)
}

func TestDecodeTxSizeLimit(t *testing.T) {
	// Fill the message so that the whole tx is exactly MaxTxBytes: accepted.
	// One byte more is too large.
	base := sm.Body{ChainID: "c", Type: "t/t"}
	for n := sm.MaxTxBytes - 200; n < sm.MaxTxBytes; n++ {
		base.Msg = make([]byte, n)
		raw := rawTx(base, nil)
		switch {
		case len(raw) == sm.MaxTxBytes:
			if _, err := sm.DecodeTx(raw); err != nil {
				t.Fatalf("tx of exactly MaxTxBytes rejected: %v", err)
			}
			base.Msg = make([]byte, n+1)
			if _, err := sm.DecodeTx(rawTx(base, nil)); !errors.Is(err, sm.ErrTxTooLarge) {
				t.Fatalf("tx of MaxTxBytes+1: %v, want ErrTxTooLarge", err)
			}
			return
		case len(raw) > sm.MaxTxBytes:
			t.Fatalf("could not build a tx of exactly %d bytes", sm.MaxTxBytes)
		}
	}
	t.Fatal("never reached MaxTxBytes")
}

// TestErrorCodesAreStable pins the codes of the envelope errors: they are part
// of the protocol and clients match on them.
func TestErrorCodesAreStable(t *testing.T) {
	want := map[*sm.Error]uint32{
		sm.ErrInternal: 1, sm.ErrTxDecode: 2, sm.ErrTxTooLarge: 3, sm.ErrWrongChainID: 4,
		sm.ErrBadSignature: 5, sm.ErrBadSequence: 6, sm.ErrUnknownType: 7, sm.ErrUnknownSigner: 8,
		sm.ErrInactive: 9, sm.ErrFeeTooLow: 10, sm.ErrFunds: 11, sm.ErrInvalidMsg: 12,
	}
	for e, code := range want {
		if e.Code != code || e.Codespace != sm.Codespace {
			t.Errorf("%q = %s/%d, want %s/%d", e.Desc, e.Codespace, e.Code, sm.Codespace, code)
		}
	}
	seen := map[string]bool{}
	for _, e := range sm.Registered() {
		k := fmt.Sprintf("%s/%d", e.Codespace, e.Code)
		if seen[k] {
			t.Errorf("duplicate registered error %s", k)
		}
		seen[k] = true
		if e.Code == 0 {
			t.Errorf("%s registered with code 0", e.Desc)
		}
	}
	for e := range want {
		if !seen[fmt.Sprintf("%s/%d", e.Codespace, e.Code)] {
			t.Errorf("%q missing from Registered()", e.Desc)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		code uint32
	}{{"code zero", 0}, {"duplicate", sm.ErrTxDecode.Code}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			sm.Register(sm.Codespace, tc.code, "again")
		})
	}
}

func TestABCIInfo(t *testing.T) {
	if code, space, log := sm.ABCIInfo(nil); code != 0 || space != "" || log != "" {
		t.Fatalf("ABCIInfo(nil) = %d %q %q", code, space, log)
	}
	wrapped := fmt.Errorf("outer: %w", sm.Wrapf(sm.ErrBadSequence, "got %d, want %d", 3, 2))
	code, space, log := sm.ABCIInfo(wrapped)
	if code != sm.ErrBadSequence.Code || space != sm.Codespace || !strings.Contains(log, "got 3, want 2") {
		t.Fatalf("ABCIInfo(wrapped) = %d %q %q", code, space, log)
	}
	if !errors.Is(wrapped, sm.ErrBadSequence) || errors.Is(wrapped, sm.ErrBadSignature) {
		t.Fatal("Wrapf does not keep the error matchable")
	}
	code, space, log = sm.ABCIInfo(errors.New("disk full"))
	if code != sm.ErrInternal.Code || space != sm.Codespace || !strings.Contains(log, "disk full") {
		t.Fatalf("ABCIInfo(unregistered) = %d %q %q", code, space, log)
	}
}

type testModule struct {
	name   string
	routes []sm.Route
}

func (m testModule) Name() string                                  { return m.name }
func (m testModule) Routes() []sm.Route                            { return m.routes }
func (m testModule) InitGenesis(sm.Context, json.RawMessage) error { return nil }

func TestRouter(t *testing.T) {
	noop := func(sm.Context, sm.Msg) error { return nil }
	r := sm.NewRouter(
		testModule{"b", []sm.Route{{Type: "z/last", Decode: decodeNote, Exec: noop}}},
		testModule{"a", []sm.Route{{Type: "test/note", Decode: decodeNote, Exec: noop}, {Type: "a/first", Decode: decodeNote, Exec: noop}}},
	)
	if got := strings.Join(r.Types(), ","); got != "a/first,test/note,z/last" {
		t.Fatalf("Types = %s, want sorted", got)
	}
	if mods := r.Modules(); len(mods) != 2 || mods[0].Name() != "b" {
		t.Fatalf("Modules not in registration order: %v", mods)
	}
	if _, ok := r.Route("nope"); ok {
		t.Fatal("Route found an unregistered type")
	}

	tests := []struct {
		name    string
		body    sm.Body
		wantErr error
	}{
		{"ok", sm.Body{Type: "test/note", Msg: codec.Marshal(&msgNote{Text: "hi"})}, nil},
		{"unknown type", sm.Body{Type: "nope/nope", Msg: codec.Marshal(&msgNote{Text: "hi"})}, sm.ErrUnknownType},
		{"decode error", sm.Body{Type: "test/note", Msg: []byte{5, 'h'}}, sm.ErrTxDecode},
		{"trailing bytes", sm.Body{Type: "test/note", Msg: []byte{1, 'h', 0}}, sm.ErrTxDecode},
		{"over field limit", sm.Body{Type: "test/note", Msg: codec.Marshal(&msgNote{Text: strings.Repeat("x", 17)})}, sm.ErrTxDecode},
		{"validate basic", sm.Body{Type: "test/note", Msg: codec.Marshal(&msgNote{})}, sm.ErrInvalidMsg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, msg, err := r.DecodeMsg(tt.body)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeMsg = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (rt.Type != "test/note" || msg.(*msgNote).Text != "hi") {
				t.Fatalf("DecodeMsg = %+v %+v", rt, msg)
			}
		})
	}
}

func TestRouterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate route did not panic")
		}
	}()
	rt := sm.Route{Type: "x/y", Decode: decodeNote}
	sm.NewRouter(testModule{"a", []sm.Route{rt}}, testModule{"b", []sm.Route{rt}})
}

func TestEvents(t *testing.T) {
	var nilEvents *sm.Events
	nilEvents.Emit("ignored")
	nilEvents.Truncate(0)
	if nilEvents.Len() != 0 || nilEvents.List() != nil {
		t.Fatal("nil Events is not a no-op")
	}
	e := &sm.Events{}
	e.Emit("a", sm.Attr{Key: "k", Value: "v"})
	e.Emit("b")
	e.Emit("c")
	e.Truncate(5) // beyond the end: no-op
	if e.Len() != 3 {
		t.Fatalf("Len = %d", e.Len())
	}
	e.Truncate(1)
	if l := e.List(); len(l) != 1 || l[0].Type != "a" || l[0].Attrs[0] != (sm.Attr{Key: "k", Value: "v"}) {
		t.Fatalf("after Truncate(1) = %+v", l)
	}
}

func TestValidatorUpdatesLastWins(t *testing.T) {
	a, b := testKey(t, 1).PubKey(), testKey(t, 2).PubKey()
	var v sm.ValidatorUpdates
	v.Set(a, 10)
	v.Set(b, 5)
	v.Set(a, 0)
	got := v.List()
	if len(got) != 2 || got[0] != (sm.ValidatorUpdate{PubKey: a, Power: 0}) || got[1] != (sm.ValidatorUpdate{PubKey: b, Power: 5}) {
		t.Fatalf("List = %+v", got)
	}
	var nilV *sm.ValidatorUpdates
	if nilV.List() != nil {
		t.Fatal("nil ValidatorUpdates List is not nil")
	}
}

func TestContextWithStore(t *testing.T) {
	base := store.NewMemory()
	ctx := sm.Context{Store: base, Height: 3}
	c2 := ctx.WithStore(store.NewMemory())
	if ctx.Store != store.KV(base) || c2.Height != 3 || c2.Store == store.KV(base) {
		t.Fatal("WithStore changed the original or lost fields")
	}
}

func TestDecodeMsgHelpers(t *testing.T) {
	var addr [20]byte
	var key [32]byte
	for i := range key {
		key[i] = byte(i + 1)
		if i < 20 {
			addr[i] = byte(100 + i)
		}
	}
	in := append(addr[:], key[:]...)
	r := codec.NewReader(in)
	if sm.ReadAddress(r, "a") != addr || sm.ReadKey32(r, "k") != key || r.Done() != nil {
		t.Fatal("ReadAddress/ReadKey32 round trip failed")
	}
	r = codec.NewReader(in[:19])
	if sm.ReadAddress(r, "a") != ([20]byte{}) || r.Err() == nil {
		t.Fatal("short address did not fail with a zero value")
	}
}

// FuzzDecodeTx: decoding never panics, and whatever decodes re-encodes to the
// very same bytes (one encoding per transaction, so one hash).
func FuzzDecodeTx(f *testing.F) {
	key := testKey(f, 9)
	f.Add(sm.SignTx(key, "medchain-test", 0, 0, &msgNote{Text: "hello"}))
	f.Add(sm.SignTx(key, "c", 1<<40, 12345, &msgNote{Text: "x"}))
	f.Add(rawTx(sm.Body{ChainID: "medchain-test", Type: "accounts/register_patient", Msg: bytes.Repeat([]byte{7}, 32)}, nil))
	f.Add([]byte{sm.TxFormatV1})
	f.Add([]byte{sm.TxFormatV1, 0x80, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			if tx != nil {
				t.Fatal("error with a non-nil tx")
			}
			var e *sm.Error
			if !errors.As(err, &e) || (e != sm.ErrTxDecode && e != sm.ErrTxTooLarge) {
				t.Fatalf("DecodeTx error %v is not ErrTxDecode or ErrTxTooLarge", err)
			}
			return
		}
		if again := sm.EncodeTx(codec.Marshal(tx.Body), tx.Sig); !bytes.Equal(again, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, again)
		}
		if !bytes.Equal(codec.Marshal(tx.Body), tx.BodyBytes) {
			t.Fatal("BodyBytes differ from the body's encoding")
		}
		if len(tx.Sig) != crypto.SignatureSize || len(tx.Body.ChainID) > sm.MaxChainIDLen || len(tx.Body.Type) > sm.MaxTypeLen {
			t.Fatalf("decoded tx breaks a limit: %+v", tx.Body)
		}
	})
}
