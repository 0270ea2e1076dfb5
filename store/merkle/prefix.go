package merkle

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/medchain/medchain/store"
)

// Address-prefix bloom filters.
//
// Most range reads of a block or a query list one party's keys of one
// family: a patient's consents, guardians, records or audit events, an
// accessor's events. Without help, such a read seeks every level of the
// LSM tree (a block read per level, most of them finding nothing). Pebble
// can skip a table whose bloom filter says it holds no key of the prefix,
// if the comparer's Split names that prefix and the read seeks with
// SeekPrefixGE. For the families below, the prefix is the database key's
// first prefixLen bytes: 's' ‖ family ‖ 20-byte address; every other key is
// its own prefix, as before, so point reads of absent keys (a new record
// id, a fresh event id) stay filtered key by key.
//
// The bytes are module prefixes of sm/prefixes.go whose keys begin with an
// address (sm's tests hold the two lists together). Changing the list
// changes the filter policy's name, so that tables written under another
// list are never probed with this list's prefixes: their filters are
// ignored until compaction rewrites them, which is slower but exact.
var addressListings = []byte{
	0x03, // accounts: patient ‖ guardian
	0x40, // audit: patient ‖ seq
	0x6D, // telemed: patient or provider ‖ booking (index)
	0x76, // research: patient ‖ request
	0x95, // fees: grantee ‖ granter (index)
	0xA2, // consent: patient ‖ party ‖ id (index)
	0xA3, // consent: party ‖ patient ‖ id (index; an account party is kind ‖ address)
	0xA6, // consent: patient ‖ emergency id (index)
	0xB3, // records: patient ‖ id (index)
	0xB7, // links: patient ‖ org ‖ MAC (index)
	0xC2, // audit: accessor ‖ seq (index)
	0xF8, // policy: owner ‖ rule id (index)
}

// wholeKeyFilters makes openTree write and read as builds before address
// prefixes did (Pebble's comparer and bloom filters); tests set it.
var wholeKeyFilters bool

// AddressListings returns the module prefixes whose keys are filtered by
// their first address (see addressListings).
func AddressListings() []byte { return slices.Clone(addressListings) }

// prefixLen is the length of a database key's filtered prefix in an
// address listing: 's' ‖ family ‖ address.
const prefixLen = 1 + 1 + 20

var isListing = func() (t [256]bool) {
	for _, b := range addressListings {
		t[b] = true
	}
	return t
}()

// inListing reports whether database key k starts with a listing's full
// prefix: 's' ‖ a listing family ‖ at least 20 more bytes.
func inListing(k []byte) bool {
	return len(k) >= prefixLen && k[0] == prefixState[0] && isListing[k[1]]
}

// split is the comparer's Split: the filtered prefix of a database key.
// Truncating byte strings to a fixed length keeps their order, so the
// prefixes sort as the keys do (Pebble's requirement).
func split(k []byte) int {
	if len(k) > prefixLen && inListing(k) {
		return prefixLen
	}
	return len(k)
}

// isTruncatedPrefix reports whether p, a filter probe, may be the split
// prefix of a longer listing key rather than a whole key.
func isTruncatedPrefix(p []byte) bool {
	return len(p) == prefixLen && inListing(p)
}

// comparer is Pebble's bytewise comparer with split. Its name stays the
// default's: the order of keys is unchanged, so existing databases open.
var comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = split
	c.ImmediateSuccessor = func(dst, a []byte) []byte {
		if isTruncatedPrefix(a) { // the next prefix key is the next address
			return append(dst, store.PrefixEnd(a)...)
		}
		return append(append(dst, a...), 0x00)
	}
	return &c
}()

// prefixBloom filters a table by split prefixes. Its name records the
// listings, so a different list never reads these filters.
type prefixBloom struct{ bloom.FilterPolicy }

var prefixBloomName = func() string {
	var b strings.Builder
	b.WriteString("medchain.prefix-bloom.v1.")
	for _, p := range addressListings {
		fmt.Fprintf(&b, "%02x", p)
	}
	return b.String()
}()

func (prefixBloom) Name() string { return prefixBloomName }

// wholeKeyBloom reads the filters of tables written before address
// prefixes (Pebble's bloom policy, every key its own prefix). Such a
// filter never holds a listing's truncated prefix, so for those probes it
// must answer "maybe"; every other probe is a whole key, as when written.
type wholeKeyBloom struct{ bloom.FilterPolicy }

func (p wholeKeyBloom) MayContain(ftype pebble.FilterType, filter, key []byte) bool {
	if isTruncatedPrefix(key) {
		return true
	}
	return p.FilterPolicy.MayContain(ftype, filter, key)
}

// seekFirst positions it at the first key of [lo, hi): with SeekPrefixGE
// when the database has the prefix comparer and the range lies within one
// listing prefix, so that tables without the prefix are skipped by their
// filters; else with First.
func seekFirst(it *pebble.Iterator, prefixSeek bool, lo, hi []byte) bool {
	if prefixSeek && inListing(lo) && hi != nil && bytes.Compare(hi, store.PrefixEnd(lo[:prefixLen])) <= 0 {
		return it.SeekPrefixGE(lo)
	}
	return it.First()
}

// stateIterOptions are the options of iterators over state keys: filters
// are read at every level, L6 included, since a listing read seeks one
// party's prefix and most parties have no keys in most tables.
func stateIterOptions(lo, hi []byte) *pebble.IterOptions {
	return &pebble.IterOptions{LowerBound: lo, UpperBound: hi, UseL6Filters: true}
}
