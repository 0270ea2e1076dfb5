package envelope

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// stream is a deterministic byte stream for tests and vectors: block i is
// SHA-256(SHA-256(label) ‖ uint64 i, big-endian). Not a secure generator.
type stream struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func newStream(label string) *stream { return &stream{seed: sha256.Sum256([]byte(label))} }

func (s *stream) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(s.buf) == 0 {
			var in [40]byte
			copy(in[:], s.seed[:])
			binary.BigEndian.PutUint64(in[32:], s.ctr)
			s.ctr++
			block := sha256.Sum256(in[:])
			s.buf = block[:]
		}
		c := copy(p[n:], s.buf)
		s.buf = s.buf[c:]
		n += c
	}
	return len(p), nil
}

// recorder keeps a copy of everything read through it.
type recorder struct {
	r    *stream
	read []byte
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.read = append(rc.read, p[:n]...)
	return n, err
}

// short is a reader that runs dry after n bytes.
type short struct{ n int }

func (s *short) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	c := min(len(p), s.n)
	s.n -= c
	return c, nil
}
