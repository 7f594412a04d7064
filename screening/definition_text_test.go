package screening

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// A definition's text is shown to people and written into FHIR resources, so
// control characters in it are refused with the path to them; tabs and line
// breaks in prose are text.
func TestDefinitionTextHasNoControlCharacters(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, path string
	}{
		{"title", `"title": "Tiny"`, `"title": "Tiny\u0000"`, "title"},
		{"version", `"version": "1"`, `"version": "1\u001b[2J"`, "version"},
		{"item text", `"text": "One?"`, `"text": "One?\u0007"`, "items[0].text"},
		{"item id", `"id": "q1"`, `"id": "q\u00001"`, "items[0].id"},
		{"option code", `{"code": "y", "display": "Yes", "value": 1}`, `{"code": "y\u0001", "display": "Yes", "value": 1}`, "items[0].options[1].code"},
		{"option display", `"display": "Yes", "value": 1`, `"display": "Yes\u0085", "value": 1`, "items[0].options[1].display"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(tiny, tc.old, tc.new, 1)
			require.NotEqual(t, tiny, src)
			_, err := Parse("tiny.json", []byte(src))
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *DefinitionError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.path, de.Path)
			require.Contains(t, de.Problem, "control characters")
		})
	}
	prose := strings.Replace(tiny, `"text": "One?"`, `"text": "One?\n\tAnswer for yourself.\r\n"`, 1)
	_, err := Parse("tiny.json", []byte(prose))
	require.NoError(t, err)
}
