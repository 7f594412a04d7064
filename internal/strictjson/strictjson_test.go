package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		doc     string
		limits  Limits
		problem string // "" when the document passes
	}{
		{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\"\\\/\b\f\n\r\t"}}`, Limits{}, ""},
		{"scalars", ` -0.5e+10 `, Limits{}, ""},
		{"surrogate pair", `"\ud83d\ude00"`, Limits{}, ""},
		{"names differing beyond case", `{"a":1,"ab":2,"b":3}`, Limits{}, ""},
		{"a name repeated in nested objects", `{"a":{"a":{"a":1}},"b":{"a":2}}`, Limits{}, ""},
		{"empty", ``, Limits{}, "ends before a value"},
		{"trailing bracket", `{"a":1}]`, Limits{}, "has data after the JSON value"},
		{"trailing brace", `{"a":1}}`, Limits{}, "has data after the JSON value"},
		{"two values", `1 2`, Limits{}, "has data after the JSON value"},
		{"byte order mark", "\xef\xbb\xbf{}", Limits{}, "a value was expected"},
		{"repeated name", `{"a":1,"a":1}`, Limits{}, "repeats a member name"},
		{"repeated name allowed", `{"a":1,"a":1}`, Limits{RepeatedNames: true}, ""},
		{"repeated name in another case", `{"status":1,"STATUS":2}`, Limits{}, "repeats a member name"},
		{"repeated name as an escape", `{"a":1,"\u0061":2}`, Limits{}, "repeats a member name"},
		{"repeated name by Unicode folding", `{"s":1,"\u017f":2}`, Limits{}, "repeats a member name"},
		{"repeated name in a wide object", `{"a0":0,"a1":0,"a2":0,"a3":0,"a4":0,"a5":0,"a6":0,"a7":0,"a8":0,"a9":0,"b0":0,"b1":0,"b2":0,"b3":0,"b4":0,"b5":0,"b6":0,"b7":0,"a3":0}`, Limits{}, "repeats a member name"},
		{"invalid UTF-8", "\"a\xffb\"", Limits{}, "is not UTF-8"},
		{"encoded surrogate", "\"\xed\xa0\x80\"", Limits{}, "is not UTF-8"},
		{"lone high surrogate", `"\ud800"`, Limits{}, "unpaired surrogate"},
		{"lone low surrogate", `"\udc00"`, Limits{}, "unpaired surrogate"},
		{"high surrogate then a letter", `"\ud800\u0041"`, Limits{}, "unpaired surrogate"},
		{"raw control character", "\"a\x01b\"", Limits{}, "control character"},
		{"NaN", `NaN`, Limits{}, "a value was expected"},
		{"leading zero", `01`, Limits{}, "has data after"},
		{"bare fraction", `1.`, Limits{}, "malformed number"},
		{"bare exponent", `1e`, Limits{}, "malformed number"},
		{"bad escape", `"\x"`, Limits{}, "unknown escape"},
		{"short escape", `"\u12"`, Limits{}, "short \\u escape"},
		{"malformed escape", `"\u12x4"`, Limits{}, "malformed \\u escape"},
		{"unterminated", `{"a":"b`, Limits{}, "ends inside a string"},
		{"missing colon", `{"a" 1}`, Limits{}, "a colon was expected"},
		{"trailing comma", `[1,]`, Limits{}, "a value was expected"},
		{"too large", `[1,2,3]`, Limits{Bytes: 6}, "is larger than 6 bytes"},
		{"too deep", `[[[]]]`, Limits{Depth: 2}, "nests arrays and objects deeper than 2"},
		{"deep enough", `[[{}]]`, Limits{Depth: 3}, ""},
		{"too many values", `[1,2,{"a":3}]`, Limits{Values: 4}, "has more than 4 values"},
		{"values counted", `[1,2,{"a":3}]`, Limits{Values: 5}, ""},
		{"too many elements", `[[1,2],[1,2,3]]`, Limits{Elements: 2}, "has an array of more than 2 elements"},
		{"elements counted per array", `[[1,2],[1,2]]`, Limits{Elements: 2}, ""},
		{"too many members", `{"a":{"b":1,"c":2,"d":3}}`, Limits{Members: 2}, "has an object of more than 2 members"},
		{"members counted per object", `{"a":{"b":1,"c":2}}`, Limits{Members: 2}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.doc), tc.limits)
			if tc.problem == "" {
				require.NoError(t, err)
				require.True(t, json.Valid([]byte(tc.doc)))
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Problem, tc.problem)
			require.LessOrEqual(t, e.Offset, len(tc.doc))
		})
	}
}

// The default depth is encoding/json's, and a document a million deep is
// refused without recursing a million times.
func TestCheckDepth(t *testing.T) {
	deep := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	require.NoError(t, Check(deep(DefaultDepth), Limits{}))
	require.ErrorContains(t, Check(deep(DefaultDepth+1), Limits{}), "deeper than 10000")
	require.ErrorContains(t, Check(deep(1_000_000), Limits{Depth: 64}), "deeper than 64")
}

// An error names the offset, never the document's text.
func TestErrorQuotesNothing(t *testing.T) {
	err := Check([]byte(`{"SECRET-NAME":1,"secret-name":2}`), Limits{})
	require.Error(t, err)
	require.NotContains(t, strings.ToLower(err.Error()), "secret")
	require.Equal(t, "repeats a member name in one object (names are compared without regard to case) (at byte 17)", err.Error())
}

// Checking allocates only the buffer of member names, which grows with the
// names of the objects open at once, not with the document.
func TestCheckAllocations(t *testing.T) {
	task := `{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/1"}}`
	long := "[" + strings.TrimSuffix(strings.Repeat(task+",", 10000), ",") + "]"
	for _, doc := range []string{task, long} {
		allocs := testing.AllocsPerRun(20, func() { require.NoError(t, Check([]byte(doc), Limits{})) })
		require.LessOrEqual(t, allocs, 8.0, "%d bytes", len(doc))
	}
}

func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,2.5e3,-0,"x\u00e9"],"b":{"c":null,"d":true}}`, `{"a":1,"A":2}`, `"\ud83d\ude00"`, `[[[]]]`,
		"\"\xff\"", `{"a":1}]`, `1 2`, ``, `{"s":1,"\u017f":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, Limits{})
		if err == nil {
			// What passes is one valid JSON value in UTF-8.
			if !json.Valid(data) || !utf8.Valid(data) {
				t.Fatalf("passed a document encoding/json or UTF-8 refuses: %q", data)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(data) {
			t.Fatalf("error %v is not an *Error within the document", err)
		}
		// A valid UTF-8 document without escapes or repeated names passes.
		if json.Valid(data) && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) && !repeatsName(data) {
			t.Fatalf("refused a valid document %q: %v", data, err)
		}
	})
}

// repeatsName is the reference check for repeated member names: it walks
// the document's tokens with encoding/json and compares names with EqualFold.
func repeatsName(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var value func() (repeats bool, ok bool)
	value = func() (bool, bool) {
		tok, err := dec.Token()
		if err != nil {
			return false, false
		}
		switch tok {
		case json.Delim('{'):
			var names []string
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return false, false
				}
				name := tok.(string)
				for _, have := range names {
					if strings.EqualFold(have, name) {
						return true, true
					}
				}
				names = append(names, name)
				if repeats, ok := value(); repeats || !ok {
					return repeats, ok
				}
			}
			_, err := dec.Token()
			return false, err == nil
		case json.Delim('['):
			for dec.More() {
				if repeats, ok := value(); repeats || !ok {
					return repeats, ok
				}
			}
			_, err := dec.Token()
			return false, err == nil
		}
		return false, true
	}
	repeats, _ := value()
	return repeats
}
