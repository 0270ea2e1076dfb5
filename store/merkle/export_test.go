package merkle

// SetFPBits makes leaves keep only the first bits of their key hashes, so
// that tests meet keys sharing an fp; it returns the undo.
func SetFPBits(bits int) func() {
	old := fpBits
	fpBits = bits
	return func() { fpBits = old }
}
