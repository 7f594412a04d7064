package screening

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
)

// DefinitionError reports a malformed instrument definition: where it is (line
// and column in the source, 1-based, zero when unknown, and the JSON path) and
// what is wrong. It wraps referral.ErrInvalid.
type DefinitionError struct {
	// Source names the definition, usually its file name.
	Source string
	Line   int
	Column int
	// Path is the JSON path of the offending value, e.g. "rules[2].expr".
	Path    string
	Problem string
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("screening: ")
	if e.Source != "" {
		b.WriteString(e.Source)
	} else {
		b.WriteString("instrument")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap makes errors.Is(err, referral.ErrInvalid) hold.
func (e *DefinitionError) Unwrap() error { return referral.ErrInvalid }

// path is a JSON path under construction: strings are object keys, ints are
// array indexes.
type path []any

func (p path) key(k string) path { return append(p[:len(p):len(p)], k) }
func (p path) index(i int) path  { return append(p[:len(p):len(p)], i) }

func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch v := s.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(v))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// defError is a definition problem found after decoding; Parse positions it.
type defError struct {
	at      path
	problem string
}

func (e *defError) Error() string { return e.at.String() + ": " + e.problem }

func problem(at path, format string, args ...any) error {
	return &defError{at: at, problem: fmt.Sprintf(format, args...)}
}

// position turns a decoding or validation error into a *DefinitionError with a
// line and column in data.
func position(source string, data []byte, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		def *defError
	)
	out := &DefinitionError{Source: source}
	switch {
	case errors.As(err, &syn):
		// Offset is just past the offending byte; point at the byte itself.
		out.Line, out.Column = lineColumn(data, syn.Offset-1)
		out.Problem = "malformed JSON: " + syn.Error()
	case errors.As(err, &typ):
		out.Line, out.Column = lineColumn(data, typ.Offset)
		out.Path = typ.Field
		// encoding/json quotes a number it could not store ("number 1e999"):
		// keep the kind, not the literal, which may be of any length.
		what, _, quoted := strings.Cut(typ.Value, " ")
		out.Problem = "must be " + jsonKind(typ.Type.Kind().String()) + ", not " + what
		if quoted {
			out.Problem = "is a number out of range or not whole"
		}
	case errors.As(err, &def):
		out.Path = def.at.String()
		out.Problem = def.problem
		if off, ok := locate(data, def.at); ok {
			out.Line, out.Column = lineColumn(data, off)
		}
	default:
		out.Problem = err.Error()
	}
	return out
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return k
}

// lineColumn converts a byte offset to a 1-based line and column.
func lineColumn(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// locate finds the byte offset of the value at path in data by walking its JSON
// tokens; it reports false when the path is not there (a missing field, say).
func locate(data []byte, target path) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func(at path) (int64, bool, error)
	// walk consumes one value and reports the offset of the target if it lies
	// inside it.
	walk = func(at path) (int64, bool, error) {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return 0, false, err
		}
		hit := len(at) == len(target) && prefixOf(at, target)
		if hit {
			// Skip the whitespace and separator before the value itself.
			for start < int64(len(data)) && strings.IndexByte(" \t\r\n:,", data[start]) >= 0 {
				start++
			}
		}
		d, ok := tok.(json.Delim)
		if !ok || d == '}' || d == ']' {
			return start, hit, nil
		}
		var found int64
		foundOK := hit
		if hit {
			found = start
		}
		for i := 0; dec.More(); i++ {
			next := at
			if d == '{' {
				kt, err := dec.Token()
				if err != nil {
					return 0, false, err
				}
				k, _ := kt.(string)
				next = at.key(k)
			} else {
				next = at.index(i)
			}
			off, ok, err := walk(next)
			if err != nil {
				return 0, false, err
			}
			if ok && !foundOK {
				found, foundOK = off, true
			}
		}
		if _, err := dec.Token(); err != nil {
			return 0, false, err
		}
		return found, foundOK, nil
	}
	off, ok, err := walk(nil)
	if err != nil {
		return 0, false
	}
	return off, ok
}

// prefixOf reports whether p is a prefix of (or equal to) q.
func prefixOf(p, q path) bool {
	if len(p) > len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}
