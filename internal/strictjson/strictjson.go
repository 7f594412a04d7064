// Package strictjson checks a JSON document before it is decoded, so that the
// decoding costs what its limits allow and means one thing only.
//
// encoding/json reads what it is given: a 4 MiB array of empty objects
// becomes millions of structs (hundreds of megabytes), a member given twice
// (or under another letter case) silently keeps the last, invalid UTF-8 and
// lone surrogates become U+FFFD, and Decoder.More lets a stray closing bracket
// after the value pass. Check refuses all of that in one pass over the bytes
// that allocates only for member names: the document must be one
// well-formed I-JSON text (RFC 7493: UTF-8, no unpaired surrogate escapes, no
// member name repeated in an object, here compared as encoding/json matches
// names to fields, without regard to case) within the byte, depth and value
// limits given.
package strictjson

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits bound a document's shape. A zero limit means none, except Depth.
type Limits struct {
	// Bytes bounds the document's length.
	Bytes int
	// Depth bounds how deeply arrays and objects nest; zero means
	// DefaultDepth.
	Depth int
	// Values bounds the number of values in the document: the top-level one,
	// every array element and every member's value. It bounds what decoding
	// can allocate, whatever the document's shape.
	Values int
	// Elements bounds the entries of any one array. Arrays are what decode
	// into slices of structs, the costliest values per byte: it bounds how
	// many of them one array can make.
	Elements int
	// Members bounds the members of any one object; refkit's documents decode
	// objects into structs of a few dozen fields.
	Members int
	// RepeatedNames lets a member name repeat in an object, for a caller
	// that reads members one at a time and refuses a repeat itself, with an
	// error naming it.
	RepeatedNames bool
}

// DefaultDepth is the nesting Check allows when Limits.Depth is zero: the most
// encoding/json decodes.
const DefaultDepth = 10000

// Error says where a document breaks the rules and how. It never quotes the
// document: the offset is enough to find the place.
type Error struct {
	// Offset is the byte offset where the problem was found.
	Offset int
	// Problem says what is wrong, e.g. "repeats a member name".
	Problem string
}

func (e *Error) Error() string {
	return e.Problem + " (at byte " + strconv.Itoa(e.Offset) + ")"
}

// Check reports the first way data breaks the rules, or nil.
func Check(data []byte, l Limits) error {
	if l.Bytes > 0 && len(data) > l.Bytes {
		return &Error{Offset: l.Bytes, Problem: "is larger than " + size(l.Bytes)}
	}
	if l.Depth <= 0 {
		l.Depth = DefaultDepth
	}
	// Room for the names of typical documents, so growing is rare.
	var folded [512]byte
	var spans [64]span
	s := scanner{data: data, limits: l, folded: folded[:0], spans: spans[:0]}
	s.space()
	if err := s.value(0); err != nil {
		return err
	}
	s.space()
	if s.pos < len(s.data) {
		return s.fail("has data after the JSON value")
	}
	return nil
}

func size(n int) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

type scanner struct {
	data   []byte
	pos    int
	limits Limits
	values int
	// folded holds the folded member names of every object being scanned,
	// innermost last, and spans where each one is; an object truncates both
	// back when it closes, so they are reused throughout.
	folded []byte
	spans  []span
}

type span struct{ start, end int }

func (s *scanner) fail(problem string) error { return &Error{Offset: s.pos, Problem: problem} }

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one value at depth (the number of containers around it).
func (s *scanner) value(depth int) error {
	s.values++
	if s.limits.Values > 0 && s.values > s.limits.Values {
		return s.fail("has more than " + strconv.Itoa(s.limits.Values) + " values")
	}
	if s.pos >= len(s.data) {
		return s.fail("ends before a value")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str(false)
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("is malformed JSON: a value was expected")
}

func (s *scanner) nest(depth int) error {
	if depth > s.limits.Depth {
		return s.fail("nests arrays and objects deeper than " + strconv.Itoa(s.limits.Depth))
	}
	return nil
}

func (s *scanner) object(depth int) error {
	if err := s.nest(depth); err != nil {
		return err
	}
	s.pos++ // {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	base, baseFolded := len(s.spans), len(s.folded)
	defer func() { s.spans, s.folded = s.spans[:base], s.folded[:baseFolded] }()
	var many map[string]struct{} // the names once there are more than listNames
	for n := 1; ; n++ {
		if s.limits.Members > 0 && n > s.limits.Members {
			return s.fail("has an object of more than " + strconv.Itoa(s.limits.Members) + " members")
		}
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail("is malformed JSON: a member name was expected")
		}
		at, start := s.pos, len(s.folded)
		if err := s.str(!s.limits.RepeatedNames); err != nil {
			return err
		}
		if !s.limits.RepeatedNames && !s.newName(base, start, &many) {
			return &Error{Offset: at, Problem: "repeats a member name in one object (names are compared without regard to case)"}
		}
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail("is malformed JSON: a colon was expected")
		}
		s.pos++
		s.space()
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.fail("ends inside an object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.space()
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("is malformed JSON: a comma or closing brace was expected")
		}
	}
}

func (s *scanner) array(depth int) error {
	if err := s.nest(depth); err != nil {
		return err
	}
	s.pos++ // [
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for n := 1; ; n++ {
		if s.limits.Elements > 0 && n > s.limits.Elements {
			return s.fail("has an array of more than " + strconv.Itoa(s.limits.Elements) + " elements")
		}
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.fail("ends inside an array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.space()
		case ']':
			s.pos++
			return nil
		default:
			return s.fail("is malformed JSON: a comma or closing bracket was expected")
		}
	}
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("is malformed JSON: an unknown literal")
	}
	s.pos += len(word)
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() error {
	bad := func() error { return s.fail("is malformed JSON: a malformed number") }
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return bad()
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return bad()
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return bad()
		}
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

// str scans a string. For a member name (name true) it appends the name to
// folded, folded as encoding/json compares names to fields.
func (s *scanner) str(name bool) error {
	s.pos++ // "
	for {
		if s.pos >= len(s.data) {
			return s.fail("ends inside a string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c < 0x20:
			return s.fail("is malformed JSON: a control character inside a string")
		case c == '\\':
			r, err := s.escape()
			if err != nil {
				return err
			}
			if name {
				s.folded = utf8.AppendRune(s.folded, fold(r))
			}
		case c < utf8.RuneSelf:
			s.pos++
			if name {
				s.folded = append(s.folded, byte(fold(rune(c))))
			}
		default:
			r, n := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && n <= 1 {
				return s.fail("is not UTF-8")
			}
			s.pos += n
			if name {
				s.folded = utf8.AppendRune(s.folded, fold(r))
			}
		}
	}
}

// newName records the name just folded (from start to the end of folded) for
// the object whose names begin at spans[base], and reports whether it is new.
// Small objects compare names in place; a large one keeps a map.
func (s *scanner) newName(base, start int, many *map[string]struct{}) bool {
	name := s.folded[start:]
	if *many != nil {
		if _, dup := (*many)[string(name)]; dup {
			return false
		}
		(*many)[string(name)] = struct{}{}
		return true
	}
	for _, sp := range s.spans[base:] {
		if string(s.folded[sp.start:sp.end]) == string(name) {
			return false
		}
	}
	s.spans = append(s.spans, span{start, len(s.folded)})
	if len(s.spans)-base > listNames {
		*many = make(map[string]struct{}, 4*listNames)
		for _, sp := range s.spans[base:] {
			(*many)[string(s.folded[sp.start:sp.end])] = struct{}{}
		}
	}
	return true
}

// escape decodes the escape sequence at pos, a surrogate pair as one rune.
func (s *scanner) escape() (rune, error) {
	if s.pos+1 >= len(s.data) {
		return 0, s.fail("ends inside a string")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00:
			// A high surrogate must be followed by an escaped low one.
			if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
				s.pos += 2
				low, err := s.hex4()
				if err != nil {
					return 0, err
				}
				if pair := utf16.DecodeRune(r, low); pair != unicode.ReplacementChar {
					return pair, nil
				}
			}
			return 0, s.fail("has an unpaired surrogate escape")
		case utf16.IsSurrogate(r):
			return 0, s.fail("has an unpaired surrogate escape")
		}
		return r, nil
	}
	return 0, s.fail("is malformed JSON: an unknown escape sequence")
}

func (s *scanner) hex4() (rune, error) {
	if len(s.data)-s.pos < 4 {
		return 0, s.fail("is malformed JSON: a short \\u escape")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, s.fail("is malformed JSON: a malformed \\u escape")
		}
		r = r<<4 | rune(d)
	}
	s.pos += 4
	return r, nil
}

// fold maps r to one representative of its case-folding orbit (the smallest
// rune in it), so two names that bytes.EqualFold calls equal fold the same:
// encoding/json matches names to struct fields that way.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// listNames is how many names an object compares in place before it keeps a
// map of them.
const listNames = 16
