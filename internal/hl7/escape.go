package hl7

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Unescape decodes a value's escape sequences: \F\ \S\ \T\ \R\ \E\ (the
// delimiters), \Xhh…\ (bytes in hex), \.br\ (a line break, as "\n"); \H\
// and \N\ (highlighting) and other formatting commands (\.sp\, \.in\, …)
// are dropped. An escape character with no closing one is an error; an
// unknown sequence (\Z…\, \C…\, \M…\) is kept as written.
func Unescape(s string, enc Encoding) (string, error) {
	if strings.IndexByte(s, enc.Escape) < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != enc.Escape {
			b.WriteByte(c)
			continue
		}
		j := strings.IndexByte(s[i+1:], enc.Escape)
		if j < 0 {
			return "", fmt.Errorf("unterminated escape sequence at %q", trunc(s[i:], 12))
		}
		seq := s[i+1 : i+1+j]
		i += j + 1
		switch {
		case seq == "F":
			b.WriteByte(enc.Field)
		case seq == "S":
			b.WriteByte(enc.Component)
		case seq == "T":
			b.WriteByte(enc.Subcomponent)
		case seq == "R":
			b.WriteByte(enc.Repetition)
		case seq == "E":
			b.WriteByte(enc.Escape)
		case seq == "P" && enc.Truncation != 0:
			b.WriteByte(enc.Truncation)
		case seq == ".br":
			b.WriteByte('\n')
		case seq == "H" || seq == "N" || strings.HasPrefix(seq, "."):
			// highlighting and formatting commands: no text of their own
		case len(seq) > 1 && seq[0] == 'X':
			raw, err := hex.DecodeString(seq[1:])
			if err != nil {
				return "", fmt.Errorf("escape \\%s\\: not hexadecimal", trunc(seq, 12))
			}
			b.Write(raw)
		case seq == "":
			return "", fmt.Errorf("empty escape sequence")
		default:
			b.WriteByte(enc.Escape)
			b.WriteString(seq)
			b.WriteByte(enc.Escape)
		}
	}
	return b.String(), nil
}

// Escape encodes the delimiters in s (and line breaks as \.br\) so it can
// be written as a value.
func Escape(s string, enc Encoding) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == enc.Escape:
			b.WriteString(string(enc.Escape) + "E" + string(enc.Escape))
		case c == enc.Field:
			b.WriteString(string(enc.Escape) + "F" + string(enc.Escape))
		case c == enc.Component:
			b.WriteString(string(enc.Escape) + "S" + string(enc.Escape))
		case c == enc.Subcomponent:
			b.WriteString(string(enc.Escape) + "T" + string(enc.Escape))
		case c == enc.Repetition:
			b.WriteString(string(enc.Escape) + "R" + string(enc.Escape))
		case c == '\r':
		case c == '\n':
			b.WriteString(string(enc.Escape) + ".br" + string(enc.Escape))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
