package keystore

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

// recordingReader fills reads from crypto/rand and remembers the buffers it
// filled, so a test can look at them after the caller is done.
type recordingReader struct{ bufs [][]byte }

func (r *recordingReader) Read(p []byte) (int, error) {
	r.bufs = append(r.bufs, p)
	return io.ReadFull(rand.Reader, p)
}

// TestCreateWipesSeeds: the buffer the new key's seeds were generated in
// is zero once Create returns (doc.go: buffers holding seeds are cleared).
func TestCreateWipesSeeds(t *testing.T) {
	rec := &recordingReader{}
	old := randReader
	randReader = rec
	t.Cleanup(func() { randReader = old })
	s := &Store{Dir: t.TempDir(), Params: LightParams()}
	key, err := s.Create("wiped", "a passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.bufs) == 0 {
		t.Fatal("Create read no seeds from randReader")
	}
	zero := make([]byte, seedsSize)
	for i, b := range rec.bufs {
		if len(b) == seedsSize && !bytes.Equal(b, zero) {
			t.Fatalf("seed buffer %d still holds the seeds after Create", i)
		}
	}
	got, err := s.Load("wiped", "a passphrase")
	if err != nil || got.PubKey() != key.PubKey() {
		t.Fatalf("Load after Create: %v", err)
	}
}
