package screening

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

const tiny = `{
  "id": "tiny",
  "version": "1",
  "title": "Tiny",
  "items": [
    {"id": "q1", "key": "one", "text": "One?", "required": true,
     "options": [{"code": "n", "display": "No", "value": 0}, {"code": "y", "display": "Yes", "value": 1}]},
    {"id": "q2", "key": "two", "text": "Two?",
     "options": [{"code": "n", "display": "No", "value": 0}, {"code": "y", "display": "Yes", "value": 2}]}
  ],
  "total": {"items": ["q1", "q2"]},
  "bands": [{"name": "low", "min": 0, "max": 1}, {"name": "high", "min": 2, "max": 3}],
  "rules": [
    {"id": "r1", "domain": "stress", "urgency": "routine", "expr": "item(\"q1\") + item(\"q2\") >= 2"}
  ]
}`

func TestParseTiny(t *testing.T) {
	in, err := Parse("tiny.json", []byte(tiny))
	require.NoError(t, err)
	r := in.NewResponse()
	require.NoError(t, r.Answer("one", "Yes"))
	require.NoError(t, r.Answer("q2", "2"))
	res := r.Score()
	require.Equal(t, Score{Value: 3, Set: true}, res.Total)
	require.Equal(t, "high", res.Band)
	require.Equal(t, []referral.Domain{referral.Stress}, res.PositiveDomains)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name         string
		old, new     string
		line, column int
		path         string
		problem      string
	}{
		{"syntax", `"version": "1",`, `"version": "1",,`, 3, 18, "", "malformed JSON"},
		{"wrong type", `"version": "1"`, `"version": 1`, 3, 15, "version", "must be a string"},
		{"bad id", `"id": "tiny"`, `"id": "Tiny Thing"`, 2, 9, "id", "kebab-case"},
		{"duplicate item", `{"id": "q2", "key": "two"`, `{"id": "q1", "key": "two"`, 8, 12, "items[1].id", "repeats item q1"},
		{"unknown rule item", `item(\"q2\") >= 2`, `item(\"q9\") >= 2`, 14, 68, "rules[0].expr", "column 14: item(\"q9\") names no item"},
		{"expr not bool", `item(\"q1\") + item(\"q2\") >= 2`, `item(\"q1\") + 1`, 14, 68, "rules[0].expr", "expected bool"},
		{"expr syntax", `item(\"q1\") + item(\"q2\") >= 2`, `item(\"q1\") +`, 14, 68, "rules[0].expr", "column 12: unexpected token EOF"},
		{"bad domain", `"domain": "stress"`, `"domain": "weather"`, 14, 28, "rules[0].domain", "not a registered domain"},
		{"bad urgency", `"urgency": "routine"`, `"urgency": "soon"`, 14, 49, "rules[0].urgency", "routine, urgent or emergent"},
		{"overlapping bands", `"min": 2, "max": 3`, `"min": 1, "max": 3`, 12, 74, "bands[1].min", "above the previous band"},
		{"total of unknown", `"items": ["q1", "q2"]`, `"items": ["q1", "q3"]`, 11, 29, "total.items[1]", "names no item"},
		{"duplicate option", `{"code": "n", "display": "No", "value": 0}, {"code": "y", "display": "Yes", "value": 2}`, `{"code": "n", "display": "No", "value": 0}, {"code": "n", "display": "Yes", "value": 2}`, 9, 71, "items[1].options[1].code", "repeats answer code"},
		{"unknown field", `"title": "Tiny",`, `"title": "Tiny", "colour": "red",`, 0, 0, "colour", "not a field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(tiny, tc.old, tc.new, 1)
			require.NotEqual(t, tiny, src)
			_, err := Parse("tiny.json", []byte(src))
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *DefinitionError
			require.True(t, errors.As(err, &de), err)
			require.Equal(t, "tiny.json", de.Source)
			require.Equal(t, tc.path, de.Path, err.Error())
			require.Contains(t, de.Problem, tc.problem)
			require.Equal(t, tc.line, de.Line, err.Error())
			require.Equal(t, tc.column, de.Column, err.Error())
		})
	}
}

func TestParseEmpty(t *testing.T) {
	_, err := Parse("empty.json", nil)
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = Parse("two.json", []byte(tiny+tiny))
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestSchemaFileIsJSON(t *testing.T) {
	data, err := os.ReadFile("instrument.schema.json")
	require.NoError(t, err)
	require.Contains(t, string(data), `"$schema"`)
}

func TestRegistry(t *testing.T) {
	in, err := Parse("tiny.json", []byte(tiny))
	require.NoError(t, err)
	reg := Default()
	require.NoError(t, reg.Add(in))
	require.ErrorIs(t, reg.Add(in), referral.ErrConflict)
	got, err := reg.Lookup("tiny")
	require.NoError(t, err)
	require.Equal(t, in, got, "a copy of what was added")
	require.NotSame(t, in, got)
	require.ErrorIs(t, reg.Add(&Instrument{ID: "x"}), referral.ErrInvalid)
	// The shared built-in registry is not changed by adding to a Default copy.
	b, err := Builtin()
	require.NoError(t, err)
	_, err = b.Lookup("tiny")
	require.ErrorIs(t, err, referral.ErrNotFound)
}
