// Package adversarial is refkit's hostile-input corpus and the generators of
// inputs too large to commit. Its own tests drive every entry point that takes
// outside input (JSON parsers, record validation, the lifecycle's access rules,
// every place personal data could leak); tests of packages it cannot import
// (the commands and examples) use the same corpus through this package.
//
// A hostile input is a Value spliced into one slot of a Template (a document the
// entry point accepts), or a Mutation of the whole document. Every one of them
// must be refused with an error wrapping referral.ErrInvalid, at a cost bounded
// by the entry point's stated limits, unless the slot lists it as acceptable and
// says why. README.md describes the corpus and how to add a case.
package adversarial

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Kind is what a slot of a template holds, which decides which hostile values
// apply to it: a number is hostile in a string slot and a string in a number
// slot, while NaN or a raw NUL byte is hostile everywhere.
type Kind string

// Kinds of slots.
const (
	String  Kind = "string"
	Number  Kind = "number"
	Integer Kind = "integer"
)

// Value is one hostile JSON value.
type Value struct {
	// Name identifies the value in test names and in a slot's Accept list.
	Name string
	// JSON is the value's bytes as spliced into a document; many are not
	// well-formed JSON on purpose.
	JSON []byte
	// For lists the kinds of slot the value is hostile in; empty means every kind.
	For []Kind
	// Big marks generated values of a megabyte or more, which run in one slot
	// of each template rather than all, to keep the suite fast.
	Big bool
}

// Hostile reports whether v is hostile in a slot of kind k.
func (v Value) Hostile(k Kind) bool { return len(v.For) == 0 || slices.Contains(v.For, k) }

//go:embed testdata/values/*.json
var valueFiles embed.FS

// Sizes of the generated values. Every document cap refkit states is below
// BigString, so a document holding it breaks the cap however it is framed.
const (
	BigString  = 5 << 20
	HugeString = 100 << 20
	DeepArray  = 1_000_000
	LongArray  = 1_000_000
	WideObject = 100_000
	LongNumber = 1_000_000
)

var (
	valuesOnce sync.Once
	values     []Value
)

// Values returns the corpus: the committed values in testdata/values (a file
// named for-<kind>-<name>.json is hostile in slots of that kind only; for-number
// covers integer slots too) followed by the generated ones. The slice is shared:
// do not modify it.
func Values() []Value {
	valuesOnce.Do(func() {
		entries, err := fs.ReadDir(valueFiles, "testdata/values")
		if err != nil {
			panic(err) // embedded at build time: cannot fail
		}
		for _, e := range entries {
			data, err := fs.ReadFile(valueFiles, path.Join("testdata/values", e.Name()))
			if err != nil {
				panic(err)
			}
			name := strings.TrimSuffix(e.Name(), ".json")
			v := Value{Name: name, JSON: data}
			switch {
			case strings.HasPrefix(name, "for-string-"):
				v.For = []Kind{String}
			case strings.HasPrefix(name, "for-number-"):
				v.For = []Kind{Number, Integer}
			case strings.HasPrefix(name, "for-integer-"):
				v.For = []Kind{Integer}
			}
			values = append(values, v)
		}
		values = append(values,
			Value{Name: "big-string", JSON: quoted(BigString), Big: true},
			Value{Name: "deep-array", JSON: deep("[", "]", DeepArray), Big: true},
			Value{Name: "deep-object", JSON: deep(`{"a":`, "}", DeepArray/10), Big: true},
			Value{Name: "deep-array-past-decoder-limit", JSON: deep("[", "]", 10_001)},
			Value{Name: "deep-array-100", JSON: deep("[", "]", 100)},
			Value{Name: "long-array", JSON: repeated("[", "0", ",", "]", LongArray), Big: true},
			Value{Name: "wide-object", JSON: wide(WideObject), Big: true},
			Value{Name: "long-number", JSON: frame("1", bytes.Repeat([]byte("0"), LongNumber), ""), Big: true},
			Value{Name: "long-fraction", JSON: frame("0.", bytes.Repeat([]byte("1"), LongNumber), ""), For: []Kind{String, Integer}, Big: true},
		)
	})
	return values
}

func quoted(n int) []byte { return frame(`"`, bytes.Repeat([]byte("a"), n), `"`) }

func deep(open, closing string, n int) []byte {
	return frame("", bytes.Repeat([]byte(open), n), strings.Repeat(closing, n))
}

func repeated(open, elem, sep, closing string, n int) []byte {
	body := bytes.Repeat([]byte(elem+sep), n)
	return frame(open, body[:len(body)-len(sep)], closing)
}

// frame returns prefix + body + suffix in one allocation.
func frame(prefix string, body []byte, suffix string) []byte {
	out := make([]byte, 0, len(prefix)+len(body)+len(suffix))
	return append(append(append(out, prefix...), body...), suffix...)
}

func wide(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`":0`)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Slot is a place in a template a hostile value goes.
type Slot struct {
	Name string
	Kind Kind
	// Valid is the slot's value in the accepted document.
	Valid string
	// Accept names hostile values the entry point rightly accepts in this slot,
	// each with the reason, so that every exception is argued in the test.
	Accept map[string]string
}

// Template is a document an entry point accepts, with named slots written as
// @name@ in Doc.
type Template struct {
	Doc   string
	Slots []Slot
	// Accept names mutations (see Mutations; "truncated" covers every
	// truncation) the entry point rightly accepts, each with the reason.
	Accept map[string]string
}

// Valid returns the accepted document: every slot holds its valid value.
func (t Template) Valid() []byte { return t.with("", nil) }

// With returns the document with value in the named slot and every other slot
// valid.
func (t Template) With(slot string, value []byte) []byte { return t.with(slot, value) }

func (t Template) with(slot string, value []byte) []byte {
	doc := []byte(t.Doc)
	for _, s := range t.Slots {
		v := []byte(s.Valid)
		if s.Name == slot {
			v = value
		}
		marker := []byte("@" + s.Name + "@")
		if !bytes.Contains(doc, marker) {
			panic("adversarial: template has no slot " + s.Name)
		}
		doc = bytes.Replace(doc, marker, v, 1)
	}
	return doc
}

// Split returns the document before and after the named slot, every other
// slot holding its valid value: the frame for a value too large to splice.
func (t Template) Split(slot string) (prefix, suffix string) {
	const mark = "\x00@split@\x00"
	doc := string(t.With(slot, []byte(mark)))
	prefix, suffix, _ = strings.Cut(doc, mark)
	return prefix, suffix
}

// Case is one hostile document.
type Case struct {
	Name string
	Data []byte
	// Slot and Value name what was spliced, for cases built from a slot, and
	// Kind is the slot's.
	Slot, Value string
	Kind        Kind
	// Big is the value's Big.
	Big bool
	// Accepted is why the entry point rightly accepts the case; empty means it
	// must be refused.
	Accepted string
}

// Cases returns every hostile document built from t: each value of the corpus
// hostile in a slot's kind spliced into it (the Big values into the first slot
// of each kind only), then every mutation of the whole valid document.
func (t Template) Cases() []Case {
	var out []Case
	bigDone := map[Kind]bool{}
	for _, s := range t.Slots {
		for _, v := range Values() {
			if !v.Hostile(s.Kind) || (v.Big && bigDone[s.Kind]) {
				continue
			}
			out = append(out, Case{
				Name: s.Name + "/" + v.Name, Data: t.With(s.Name, v.JSON),
				Slot: s.Name, Value: v.Name, Kind: s.Kind, Big: v.Big, Accepted: s.Accept[v.Name],
			})
		}
		bigDone[s.Kind] = true
	}
	for _, c := range Mutations(t.Valid()) {
		c.Accepted = t.Accept[strings.SplitN(c.Name, "/", 2)[0]]
		out = append(out, c)
	}
	return out
}

// Mutations returns hostile variants of a valid JSON object document: a byte
// order mark, a NUL or trailing data around it, the object inside an array,
// its first member duplicated (also under another letter case, which
// encoding/json matches to the same field), padding past every size cap, and
// every strict prefix (truncation) of a document under 4 KiB, or 200 spread
// prefixes of a longer one.
func Mutations(valid []byte) []Case {
	out := []Case{
		{Name: "bom", Data: concat("\xef\xbb\xbf", valid)},
		{Name: "utf16-bom", Data: concat("\xfe\xff", valid)},
		{Name: "leading-nul", Data: concat("\x00", valid)},
		{Name: "trailing-nul", Data: concat2(valid, "\x00")},
		{Name: "trailing-garbage", Data: concat2(valid, "x")},
		{Name: "trailing-object", Data: concat2(valid, " {}")},
		{Name: "trailing-bracket", Data: concat2(valid, "]")},
		{Name: "in-array", Data: concat2(concat("[", valid), "]")},
		{Name: "padded-past-caps", Data: concat2(valid, strings.Repeat(" ", BigString))},
	}
	if first, rest, ok := firstMember(valid); ok {
		out = append(out,
			Case{Name: "duplicate-key", Data: []byte("{" + first + "," + first + rest)},
			Case{Name: "duplicate-key-other-case", Data: []byte("{" + upperKey(first) + "," + first + rest)},
		)
	}
	step := 1
	if len(valid) > 4096 {
		step = len(valid) / 200
	}
	for n := 0; n < len(valid); n += step {
		out = append(out, Case{Name: fmt.Sprintf("truncated/at-%d", n), Data: valid[:n:n]})
	}
	return out
}

func concat(prefix string, doc []byte) []byte { return append([]byte(prefix), doc...) }

func concat2(doc []byte, suffix string) []byte {
	return append(append([]byte(nil), doc...), suffix...)
}

// firstMember splits an object document into its first member ("key":value)
// and the rest after it (from the comma or closing brace on).
func firstMember(doc []byte) (first, rest string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", false
	}
	start := dec.InputOffset()
	if _, err := dec.Token(); err != nil {
		return "", "", false
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return "", "", false
	}
	end := dec.InputOffset()
	return strings.TrimLeft(string(doc[start:end]), " \t\r\n,"), string(doc[end:]), true
}

// upperKey upper-cases the key of a member.
func upperKey(member string) string {
	k := strings.Index(member[1:], `"`) + 1
	return strings.ToUpper(member[:k]) + member[k:]
}

// Filled returns prefix, then as many comma-separated copies of elem as fit
// in size bytes with suffix, then suffix: the largest document of that shape
// under a cap, to see what its decoding costs (4 MiB of {} in an array of
// structs decodes into millions of them).
func Filled(prefix, elem, suffix string, size int) []byte {
	n := (size - len(prefix) - len(suffix) + 1) / (len(elem) + 1)
	return repeated(prefix, elem, ",", suffix, max(n, 1))
}

// Framed returns prefix, then n bytes of fillByte, then suffix, as a reader that
// generates them as they are read (nothing is held in memory) and counts what
// its reader took: a 100 MB body costs nothing until someone reads it.
func Framed(prefix string, fillByte byte, n int64, suffix string) *Counting {
	return &Counting{r: io.MultiReader(strings.NewReader(prefix), io.LimitReader(filler(fillByte), n), strings.NewReader(suffix))}
}

// Counting is a reader that counts the bytes read through it.
type Counting struct {
	r    io.Reader
	read int64
}

// CountReads wraps r to count what is read from it.
func CountReads(r io.Reader) *Counting { return &Counting{r: r} }

func (c *Counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

// N returns the number of bytes read so far.
func (c *Counting) N() int64 { return c.read }

type filler byte

func (f filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

var (
	hugeOnce sync.Once
	hugeMu   sync.Mutex
	hugeBuf  []byte
)

// headroom is the space kept either side of the huge string for a document's
// prefix and suffix.
const headroom = 64 << 10

// WithHugeString calls fn with prefix + a JSON string of HugeString (100 MiB)
// bytes + suffix. The buffer is built once per test binary and reused, so fn
// must not keep or modify the document; calls are serialised.
func WithHugeString(prefix, suffix string, fn func(doc []byte)) {
	if len(prefix) > headroom || len(suffix) > headroom {
		panic("adversarial: prefix or suffix longer than the headroom")
	}
	hugeOnce.Do(func() {
		hugeBuf = make([]byte, headroom+HugeString+2+headroom)
		hugeBuf[headroom] = '"'
		body := hugeBuf[headroom+1 : headroom+1+HugeString]
		body[0] = 'a'
		for n := 1; n < len(body); n *= 2 {
			copy(body[n:], body[:n])
		}
		hugeBuf[headroom+HugeString+1] = '"'
	})
	hugeMu.Lock()
	defer hugeMu.Unlock()
	start := headroom - len(prefix)
	copy(hugeBuf[start:], prefix)
	end := headroom + HugeString + 2
	copy(hugeBuf[end:], suffix)
	fn(hugeBuf[start : end+len(suffix) : end+len(suffix)])
}
