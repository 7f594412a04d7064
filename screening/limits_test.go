package screening

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// allocatedBytes returns what f allocated.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Every parser reads strict I-JSON within its limits and refuses the rest
// before decoding: what encoding/json alone let through (a trailing bracket, a
// member given twice under another case, an unpaired surrogate or invalid
// UTF-8 turned into U+FFFD, millions of empty objects) is ErrInvalid.
func TestDocumentLimits(t *testing.T) {
	prapare := builtin(t, "prapare")
	parsers := map[string]func(data []byte) error{
		"answers":       func(data []byte) error { _, err := ParseAnswers(prapare, data); return err },
		"questionnaire": func(data []byte) error { _, err := ParseQuestionnaireResponse(prapare, data); return err },
		"definition":    func(data []byte) error { _, err := Parse("x.json", data); return err },
	}
	items := func(n int, item string) string { return strings.TrimSuffix(strings.Repeat(item+",", n), ",") }
	members := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"m%d":1`, i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, parser, doc, problem string
	}{
		{"trailing bracket", "questionnaire", `{"resourceType":"QuestionnaireResponse"}]`, "has data after the JSON value"},
		{"trailing brace", "definition", tiny + `}`, "has data after the JSON value"},
		{"member in another case", "questionnaire", `{"resourceType":"QuestionnaireResponse","item":[],"ITEM":[]}`, "repeats a member name"},
		{"member twice", "definition", strings.Replace(tiny, `"version": "1",`, `"version": "1", "version": "2",`, 1), "repeats a member name"},
		{"unpaired surrogate", "answers", `{"answers":{"56799-0":"12 Elm \ud800"}}`, "unpaired surrogate"},
		{"invalid UTF-8", "questionnaire", "{\"resourceType\":\"QuestionnaireResponse\",\"item\":[{\"linkId\":\"56799-0\",\"answer\":[{\"valueString\":\"\xff\"}]}]}", "is not UTF-8"},
		{"byte order mark", "answers", "\xef\xbb\xbf{\"answers\":{}}", "a value was expected"},
		{"items beyond any instrument", "questionnaire", `{"resourceType":"QuestionnaireResponse","item":[` + items(2000, `{}`) + `]}`, "more than 1000 elements"},
		{"values beyond any instrument", "definition", `{"id":"x","items":[` + items(1000, `{"options":[`+items(100, `{}`)+`]}`) + `]}`, "more than 100000 values"},
		{"object of many members", "questionnaire", `{"resourceType":"QuestionnaireResponse","item":[{` + members(200) + `}]}`, "more than 100 members"},
		{"too deep", "answers", `{"answers":{"93030-5":[["x"]]}}`, "nests arrays and objects deeper than 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parsers[tc.parser]([]byte(tc.doc))
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.ErrorContains(t, err, tc.problem)
		})
	}

	// A document over 4 MiB is refused unread.
	big := []byte(`{"answers":{"56799-0":"` + strings.Repeat("a", 5<<20) + `"}}`)
	for name, parse := range parsers {
		var err error
		cost := allocatedBytes(func() { err = parse(big) })
		require.ErrorIs(t, err, referral.ErrInvalid, name)
		require.ErrorContains(t, err, "larger than 4 MiB", name)
		require.Less(t, cost, uint64(64<<10), "%s read a document it refuses", name)
	}
}

// What the input names is quoted in an error only when it has the shape of a
// code or a member name: not text of any length, not control characters, not
// words an answer could be, and never a number's literal.
func TestErrorsQuoteNoInput(t *testing.T) {
	prapare := builtin(t, "prapare")
	long := strings.Repeat("x", 10_000)
	for _, tc := range []struct {
		name, doc, field, absent string
	}{
		{"unknown item code", `{"answers":{"12345-6":1}}`, "answers.12345-6", ""},
		{"unknown long item", `{"answers":{"` + long + `":1}}`, "answers", long},
		{"unknown item with spaces", `{"answers":{"Jane Doe":1}}`, "answers", "Jane"},
		{"unknown item with controls", `{"answers":{"a\u001b[2J-1":1}}`, "answers", "\x1b"},
		{"misspelt member", `{"answer":{}}`, "answer", ""},
		{"unknown long member", `{"` + long + `":{}}`, "response", long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAnswers(prapare, []byte(tc.doc))
			var ve *referral.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tc.field, ve.Field)
			if tc.absent != "" {
				require.NotContains(t, err.Error(), tc.absent)
			}
			require.Less(t, len(err.Error()), 200)
		})
	}
	_, err := ParseQuestionnaireResponse(prapare, []byte(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"`+long+`","answer":[{"valueString":"x"}]}]}`))
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.NotContains(t, err.Error(), long)

	number := "1" + strings.Repeat("0", 400)
	_, err = Parse("tiny.json", []byte(strings.Replace(tiny, `"value": 0}`, `"value": `+number+`}`, 1)))
	var de *DefinitionError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "items.options.value", de.Path)
	require.Equal(t, "is a number out of range or not whole", de.Problem)
	require.NotContains(t, err.Error(), number)
}
