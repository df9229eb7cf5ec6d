package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// bash reads a config file as bytes: a Latin-1 é (one byte, 0xE9) in a comment or a value is
// as good as any other. The parser golock uses reads UTF-8, so each byte of the file that is
// not part of valid UTF-8 goes through it as a rune of its own, U+10FF00 plus the byte (the
// last 128 code points, private use), and each value is turned back into bytes after its
// expansion: a value holds the file's bytes exactly. A rune of that range already in the file
// or the environment is carried byte by byte the same way, so the round trip is exact for
// any input.
const rawBase = 0x10FF00

func isRawRune(r rune) bool { return r >= rawBase+0x80 && r <= rawBase+0xFF }

// toRunes is s with each byte outside valid UTF-8 (and each byte of a rune of the raw
// range) turned into its raw rune.
func toRunes(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isRawRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isRawRune(r) {
			for _, c := range []byte(s[i : i+size]) {
				b.WriteRune(rawBase + rune(c))
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// toBytes undoes toRunes.
func toBytes(s string) string {
	if !strings.ContainsFunc(s, isRawRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isRawRune(r) {
			b.WriteByte(byte(r - rawBase))
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// maxNULs is how many NUL bytes bash drops from a sourced file before it refuses the file
// as binary.
const maxNULs = 256

// dropNULs is src without its NUL bytes, as bash sources it: bash drops a NUL byte, but of
// two or more in a row it drops every other one and stops reading at the first left, and a
// file with more than 256 is refused. golock refuses those two cases rather than read half
// a file.
func dropNULs(src []byte) ([]byte, error) {
	n := bytes.Count(src, []byte{0})
	if n == 0 {
		return src, nil
	}
	if i := bytes.Index(src, []byte{0, 0}); i >= 0 {
		return nil, &FileError{Line: 1 + bytes.Count(src[:i], []byte("\n")),
			Msg: "holds NUL bytes in a row, where bash would stop reading the file; remove them"}
	}
	if n > maxNULs {
		return nil, &FileError{Line: 1 + bytes.Count(src[:bytes.IndexByte(src, 0)], []byte("\n")),
			Msg: fmt.Sprintf("holds %d NUL bytes (from this line on): bash refuses the file as binary", n)}
	}
	return bytes.ReplaceAll(src, []byte{0}, nil), nil
}
