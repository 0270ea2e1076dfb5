package fhir

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/x/records"
)

// render adds the server-assigned meta.versionId and meta.lastUpdated (the
// block time of the version) and the record's id to a stored resource. The
// members come out in key order, as encoding/json writes a map; values are
// copied as stored.
//
// Every read, search hit and export entry goes through here, so it works on
// the bytes: one validity scan and one pass that splits the top-level object
// (and meta) into members, instead of decoding into maps and encoding
// again, which cost a read about a tenth of its time
// (docs/performance.md). A resource the splitter does not handle (a key
// with an escape, a repeated key) takes the decoding path, whose result is
// the same JSON.
func render(content []byte, ver *records.Version) ([]byte, error) {
	if !json.Valid(content) {
		return renderDecoded(content, ver)
	}
	top, ok := splitObject(content)
	if !ok {
		return renderDecoded(content, ver)
	}
	var meta []member
	if i, found := findMember(top, "meta"); found {
		if meta, ok = splitObject(top[i].val); !ok {
			return renderDecoded(content, ver)
		}
	}
	meta = setMember(meta, "versionId", strconv.AppendQuote(nil, strconv.FormatUint(uint64(ver.Version), 10)))
	meta = setMember(meta, "lastUpdated", strconv.AppendQuote(nil, fhirInstant(ver.Created)))
	top = setMember(top, "meta", appendObject(nil, meta))
	// Every resource has its id, whichever path wrote it: the record id (a
	// record added by the CLI or the API may carry none, or its own).
	top = setMember(top, "id", strconv.AppendQuote(nil, idString(ver.Record)))
	size := 2
	for _, m := range top {
		size += len(m.key) + len(m.val) + 4
	}
	return appendObject(make([]byte, 0, size), top), nil
}

// renderDecoded is render through encoding/json, for what splitObject
// declines.
func renderDecoded(content []byte, ver *records.Version) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(content, &top); err != nil {
		return nil, err
	}
	meta := map[string]json.RawMessage{}
	if m, ok := top["meta"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, err
		}
		if meta == nil { // "meta": null
			meta = map[string]json.RawMessage{}
		}
	}
	meta["versionId"] = json.RawMessage(strconv.Quote(strconv.FormatUint(uint64(ver.Version), 10)))
	meta["lastUpdated"] = json.RawMessage(strconv.Quote(fhirInstant(ver.Created)))
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	top["meta"] = mb
	top["id"] = json.RawMessage(strconv.Quote(idString(ver.Record)))
	return json.Marshal(top)
}

// member is one name/value pair of a JSON object, the value as written.
type member struct {
	key string
	val []byte
}

// splitObject splits valid JSON holding one object into its members, sorted
// by key. ok is false for anything else, for a key with an escape, a
// control character or a byte outside ASCII, and for a repeated key.
func splitObject(b []byte) (ms []member, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 || b[j] >= 0x80 {
				return nil, false
			}
			j++
		}
		if j >= len(b) {
			return nil, false
		}
		key := string(b[i+1 : j])
		i = skipSpace(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		end, ok := skipValue(b, i)
		if !ok {
			return nil, false
		}
		ms = append(ms, member{key: key, val: b[i:end]})
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, false
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if b[i] != '}' || skipSpace(b, i+1) != len(b) {
			return nil, false
		}
		break
	}
	slices.SortFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
	for k := 1; k < len(ms); k++ {
		if ms[k].key == ms[k-1].key {
			return nil, false
		}
	}
	return ms, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i]; b is valid
// JSON, so only strings and nesting need care.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end, ok := skipString(b, i)
			if !ok {
				return 0, false
			}
			i = end
			if depth == 0 {
				return i, true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true // the end of a scalar just before it
			}
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i, true
			}
		}
		i++
	}
	return i, depth == 0
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// findMember is where key is, or would be, in members sorted by key.
func findMember(ms []member, key string) (int, bool) {
	return slices.BinarySearchFunc(ms, key, func(m member, k string) int { return strings.Compare(m.key, k) })
}

// setMember sets key to val in members sorted by key, keeping the order.
func setMember(ms []member, key string, val []byte) []member {
	i, found := findMember(ms, key)
	if found {
		ms[i].val = val
		return ms
	}
	return slices.Insert(ms, i, member{key: key, val: val})
}

func appendObject(dst []byte, ms []member) []byte {
	dst = append(dst, '{')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, m.key...)
		dst = append(dst, '"', ':')
		dst = append(dst, m.val...)
	}
	return append(dst, '}')
}
