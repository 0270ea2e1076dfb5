package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/codec"
)

// TestEncodingGolden pins the wire form of each primitive: these bytes are
// what other implementations must produce (docs/transactions.md).
func TestEncodingGolden(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *codec.Writer)
		want  string // hex
	}{
		{"uint 0", func(w *codec.Writer) { w.Uint(0) }, "00"},
		{"uint 1", func(w *codec.Writer) { w.Uint(1) }, "01"},
		{"uint 127", func(w *codec.Writer) { w.Uint(127) }, "7f"},
		{"uint 128", func(w *codec.Writer) { w.Uint(128) }, "8001"},
		{"uint 300", func(w *codec.Writer) { w.Uint(300) }, "ac02"},
		{"uint 16384", func(w *codec.Writer) { w.Uint(16384) }, "808001"},
		{"uint max", func(w *codec.Writer) { w.Uint(math.MaxUint64) }, "ffffffffffffffffff01"},
		{"int max", func(w *codec.Writer) { w.Int(math.MaxInt64) }, "ffffffffffffffff7f"},
		{"bool false", func(w *codec.Writer) { w.Bool(false) }, "00"},
		{"bool true", func(w *codec.Writer) { w.Bool(true) }, "01"},
		{"blob empty", func(w *codec.Writer) { w.Blob(nil) }, "00"},
		{"blob", func(w *codec.Writer) { w.Blob([]byte{0xde, 0xad}) }, "02dead"},
		{"string", func(w *codec.Writer) { w.String("hi") }, "026869"},
		{"string utf8", func(w *codec.Writer) { w.String("é") }, "02c3a9"},
		{"fixed", func(w *codec.Writer) { w.Fixed([]byte{1, 2, 3}) }, "010203"},
		{"strings", func(w *codec.Writer) { w.Strings([]string{"a", ""}) }, "02016100"},
		{"strings empty", func(w *codec.Writer) { w.Strings(nil) }, "00"},
		{"sequence", func(w *codec.Writer) { w.Uint(5); w.Bool(true); w.String("x") }, "05010178"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w codec.Writer
			tt.write(&w)
			if got := hex.EncodeToString(w.Bytes()); got != tt.want {
				t.Fatalf("encoding = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	uints := []uint64{0, 1, 127, 128, 255, 256, 16383, 16384, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64}
	w := codec.NewWriter(0)
	for _, v := range uints {
		w.Uint(v)
	}
	w.Int(0)
	w.Int(1_700_000_000)
	w.Int(math.MaxInt64)
	w.Bool(true)
	w.Bool(false)
	w.Blob([]byte("blob"))
	w.Blob(nil)
	w.String("medchain ✓")
	w.String("")
	w.Fixed([]byte{9, 8, 7, 6})
	w.Strings([]string{"x", "yy", ""})

	r := codec.NewReader(w.Bytes())
	for _, want := range uints {
		if got := r.Uint("u"); got != want {
			t.Errorf("Uint = %d, want %d", got, want)
		}
	}
	for _, want := range []int64{0, 1_700_000_000, math.MaxInt64} {
		if got := r.Int("i"); got != want {
			t.Errorf("Int = %d, want %d", got, want)
		}
	}
	if !r.Bool("t") || r.Bool("f") {
		t.Error("bools did not round-trip")
	}
	if got := r.Blob("b", 10); string(got) != "blob" {
		t.Errorf("Blob = %q", got)
	}
	if got := r.Blob("empty", 10); got == nil || len(got) != 0 {
		t.Errorf("empty Blob = %#v, want non-nil empty slice", got)
	}
	if got := r.String("s", 64); got != "medchain ✓" {
		t.Errorf("String = %q", got)
	}
	if got := r.String("empty", 0); got != "" {
		t.Errorf("empty String = %q", got)
	}
	if got := r.Fixed("f", 4); !bytes.Equal(got, []byte{9, 8, 7, 6}) {
		t.Errorf("Fixed = %x", got)
	}
	if got := r.Strings("ss", 3, 2); len(got) != 3 || got[0] != "x" || got[1] != "yy" || got[2] != "" {
		t.Errorf("Strings = %q", got)
	}
	if err := r.Done(); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if r.Remaining() != 0 {
		t.Fatalf("Remaining = %d", r.Remaining())
	}
}

// TestStrictDecoding lists inputs that a canonical decoder must reject, and
// the error each must report.
func TestStrictDecoding(t *testing.T) {
	tests := []struct {
		name    string
		in      string // hex
		read    func(r *codec.Reader)
		wantErr error
	}{
		{"empty uint", "", func(r *codec.Reader) { r.Uint("v") }, codec.ErrTruncated},
		{"truncated varint", "80", func(r *codec.Reader) { r.Uint("v") }, codec.ErrTruncated},
		{"non-minimal zero", "8000", func(r *codec.Reader) { r.Uint("v") }, codec.ErrVarint},
		{"non-minimal 127", "ff00", func(r *codec.Reader) { r.Uint("v") }, codec.ErrVarint},
		{"non-minimal 1 in three bytes", "818000", func(r *codec.Reader) { r.Uint("v") }, codec.ErrVarint},
		{"varint over 64 bits", "ffffffffffffffffff02", func(r *codec.Reader) { r.Uint("v") }, codec.ErrVarint},
		{"varint of 11 bytes", "8080808080808080808001", func(r *codec.Reader) { r.Uint("v") }, codec.ErrVarint},
		{"int above MaxInt64", "80808080808080808001", func(r *codec.Reader) { r.Int("v") }, codec.ErrTooLong},
		{"bool 2", "02", func(r *codec.Reader) { r.Bool("v") }, codec.ErrBool},
		{"bool ff", "ff", func(r *codec.Reader) { r.Bool("v") }, codec.ErrBool},
		{"bool missing", "", func(r *codec.Reader) { r.Bool("v") }, codec.ErrTruncated},
		{"blob over limit", "03616263", func(r *codec.Reader) { r.Blob("v", 2) }, codec.ErrTooLong},
		{"blob truncated", "0361", func(r *codec.Reader) { r.Blob("v", 10) }, codec.ErrTruncated},
		{"blob huge length", "ffffffffffffffff7f", func(r *codec.Reader) { r.Blob("v", math.MaxInt) }, codec.ErrTruncated},
		{"string invalid utf8", "02c328", func(r *codec.Reader) { r.String("v", 10) }, codec.ErrUTF8},
		{"string lone continuation", "0180", func(r *codec.Reader) { r.String("v", 10) }, codec.ErrUTF8},
		{"string over limit", "03616263", func(r *codec.Reader) { r.String("v", 2) }, codec.ErrTooLong},
		{"fixed truncated", "0102", func(r *codec.Reader) { r.Fixed("v", 3) }, codec.ErrTruncated},
		{"fixed negative", "0102", func(r *codec.Reader) { r.Fixed("v", -1) }, codec.ErrTruncated},
		{"count over limit", "05", func(r *codec.Reader) { r.Count("v", 4) }, codec.ErrListTooLong},
		{"count over remaining", "05616161", func(r *codec.Reader) { r.Count("v", 100) }, codec.ErrTruncated},
		{"strings element too long", "0103616263", func(r *codec.Reader) { r.Strings("v", 4, 2) }, codec.ErrTooLong},
		{"strings too many", "03016101620163", func(r *codec.Reader) { r.Strings("v", 2, 2) }, codec.ErrListTooLong},
		{"trailing byte", "0100", func(r *codec.Reader) { r.Uint("v") }, codec.ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := hex.DecodeString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			r := codec.NewReader(in)
			tt.read(r)
			err = r.Done()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Done() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReaderErrorIsStickyAndNamesField(t *testing.T) {
	r := codec.NewReader([]byte{0x02, 0x05, 0x01})
	if v := r.Bool("first"); v {
		t.Fatal("bool 0x02 decoded as true")
	}
	// Later reads must not consume or overwrite the first error.
	if v := r.Uint("second"); v != 0 {
		t.Errorf("Uint after error = %d, want 0", v)
	}
	if b := r.Blob("third", 10); b != nil {
		t.Errorf("Blob after error = %x, want nil", b)
	}
	if s := r.String("fourth", 10); s != "" {
		t.Errorf("String after error = %q", s)
	}
	if ss := r.Strings("fifth", 10, 10); ss != nil {
		t.Errorf("Strings after error = %q", ss)
	}
	if n := r.Count("sixth", 10); n != 0 {
		t.Errorf("Count after error = %d", n)
	}
	err := r.Err()
	if !errors.Is(err, codec.ErrBool) {
		t.Fatalf("Err() = %v, want ErrBool", err)
	}
	if got := err.Error(); got != "first: "+codec.ErrBool.Error() {
		t.Errorf("Err() text = %q, want the first field named", got)
	}
	if !errors.Is(r.Done(), codec.ErrBool) {
		t.Errorf("Done() = %v, want the sticky ErrBool", r.Done())
	}
}

func TestReaderReturnsCopies(t *testing.T) {
	in := []byte{0x02, 'a', 'b', 'c', 'd'}
	r := codec.NewReader(in)
	blob := r.Blob("b", 2)
	fixed := r.Fixed("f", 2)
	in[1], in[3] = 'X', 'Y'
	if string(blob) != "ab" || string(fixed) != "cd" {
		t.Fatalf("decoded values alias the input: blob %q fixed %q", blob, fixed)
	}
}

func TestRemaining(t *testing.T) {
	r := codec.NewReader([]byte{0x01, 0x02, 0x03})
	r.Uint("a")
	if r.Remaining() != 2 {
		t.Fatalf("Remaining = %d, want 2", r.Remaining())
	}
	if err := r.Done(); !errors.Is(err, codec.ErrTrailing) {
		t.Fatalf("Done = %v, want ErrTrailing", err)
	}
}

type pair struct {
	A uint64
	B string
}

func (p pair) Encode(w *codec.Writer) { w.Uint(p.A); w.String(p.B) }

func TestMarshalAndHash(t *testing.T) {
	if got := hex.EncodeToString(codec.Marshal(pair{A: 300, B: "ok"})); got != "ac02026f6b" {
		t.Fatalf("Marshal = %s", got)
	}
	// SHA-256("abc"), FIPS 180-2 test vector.
	h := codec.Hash([]byte("abc"))
	if got := hex.EncodeToString(h[:]); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash(abc) = %s", got)
	}
}

// Operations a fuzz program can apply; see FuzzReader.
const (
	opUint = iota
	opInt
	opBool
	opBlob
	opString
	opFixed
	opStrings
	numOps
)

// FuzzReader reads data with a sequence of operations chosen by ops. The
// reader must never panic, and whatever it decodes without error must encode
// back to exactly the bytes consumed: the encoding is canonical.
func FuzzReader(f *testing.F) {
	f.Add([]byte{opUint, opBool, opString}, []byte{0xac, 0x02, 0x01, 0x02, 'h', 'i'})
	f.Add([]byte{opBlob, opFixed}, []byte{0x00, 1, 2, 3, 4})
	f.Add([]byte{opStrings}, []byte{0x02, 0x01, 'a', 0x00})
	f.Add([]byte{opInt}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{opUint}, []byte{0x80, 0x00})
	f.Add([]byte{opString}, []byte{0x02, 0xc3, 0x28})
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		r := codec.NewReader(data)
		w := codec.NewWriter(len(data))
		for i, op := range ops {
			// The high bits parametrize the op (a size or limit).
			param := int(op >> 3)
			switch op % numOps {
			case opUint:
				w.Uint(r.Uint("uint"))
			case opInt:
				w.Int(r.Int("int"))
			case opBool:
				w.Bool(r.Bool("bool"))
			case opBlob:
				w.Blob(r.Blob("blob", param))
			case opString:
				s := r.String("string", param)
				if r.Err() == nil && len(s) > param {
					t.Fatalf("op %d: string of %d bytes exceeds limit %d", i, len(s), param)
				}
				w.String(s)
			case opFixed:
				b := r.Fixed("fixed", param)
				if r.Err() == nil && len(b) != param {
					t.Fatalf("op %d: Fixed(%d) returned %d bytes", i, param, len(b))
				}
				w.Fixed(b)
			case opStrings:
				ss := r.Strings("strings", param%8, param)
				if r.Err() == nil && len(ss) > param%8 {
					t.Fatalf("op %d: %d strings exceed limit %d", i, len(ss), param%8)
				}
				w.Strings(ss)
			}
			if r.Err() != nil {
				return
			}
		}
		consumed := len(data) - r.Remaining()
		if !bytes.Equal(w.Bytes(), data[:consumed]) {
			t.Fatalf("not canonical: decoded %x re-encodes to %x", data[:consumed], w.Bytes())
		}
		if err := r.Done(); (err == nil) != (consumed == len(data)) {
			t.Fatalf("Done() = %v with %d of %d bytes consumed", err, consumed, len(data))
		}
	})
}

func TestInto(t *testing.T) {
	r := codec.NewReader([]byte{1, 2, 3, 4, 5})
	var a [3]byte
	r.Into("a", a[:])
	if a != [3]byte{1, 2, 3} || r.Remaining() != 2 || r.Err() != nil {
		t.Fatalf("a = %v, %d left, %v", a, r.Remaining(), r.Err())
	}
	var b [3]byte
	r.Into("b", b[:])
	if !errors.Is(r.Err(), codec.ErrTruncated) || b != [3]byte{} || !strings.Contains(r.Err().Error(), "b") {
		t.Fatalf("a truncated field: b = %v, %v", b, r.Err())
	}
	var c [1]byte
	r.Into("c", c[:]) // after an error nothing more is read
	if c != [1]byte{} {
		t.Fatalf("read after an error: %v", c)
	}
}
