package sm

import "github.com/medchain/medchain/codec"

// DecodeMsg strictly decodes a message with read, which consumes the fields
// in order; trailing bytes and field errors become ErrTxDecode.
func DecodeMsg[T Msg](b []byte, read func(r *codec.Reader) T) (Msg, error) {
	r := codec.NewReader(b)
	m := read(r)
	if err := r.Done(); err != nil {
		return nil, Wrapf(ErrTxDecode, "%T: %v", m, err)
	}
	return m, nil
}

// ReadAddress reads a fixed 20-byte address.
func ReadAddress(r *codec.Reader, field string) (a [20]byte) {
	r.Into(field, a[:])
	return a
}

// ReadKey32 reads a fixed 32-byte key.
func ReadKey32(r *codec.Reader, field string) (k [32]byte) {
	r.Into(field, k[:])
	return k
}
