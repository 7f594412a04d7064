package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// TestRun runs exactly what `go run` runs and checks the lines a reader relies on.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, "instrument.json", instrumentJSON))
	got := out.String()
	for _, want := range []string{
		"riverside-social-needs-check  8 items  Riverside Clinic Social Needs Check",
		"ahc-hrsn",
		// Ana: food 2+2, utility 1, stress 2, transport 0.
		"Ana (JSON from a web form)\n  total     7\n  band      high\n  valid     true\n",
		"  need      food-insecurity (urgent)\n",
		"  flags     priority-outreach\n",
		// Ben: transport 1, stress 1.
		"Ben (Response.Answer from the host's UI)\n  total     2\n  band      low\n  valid     true\n",
		"  positive  transportation-insecurity\n  need      transportation-insecurity (routine)\n  flags     none\n",
		"  total     none (an item of the score is missing)\n  band      none\n  valid     false\n  missing   71802-3, 88123-5\n",
		"4 needs, first need cites the screening: true",
		"FHIR Observations: 9\n",
		`"system":"https://riverside-clinic.example.org/fhir/CodeSystem/social-needs-check","code":"rcc-utility"`,
		`"code":"riverside-social-needs-check","display":"Riverside Clinic Social Needs Check"} value 7`,
		`"code":"71802-3"`,
		"path rules[3].expr: column 43: item(\"rcc-houshold\") names no item of this instrument",
		"path items[5].id: repeats item rcc-utility",
		"path bands[1].min: must be above the previous band's max",
		"screening: instrument.json:89:7: malformed JSON",
	} {
		require.Contains(t, got, want)
	}
	// The text answer is personal data and must not leak into the printed result.
	require.NotContains(t, got, "school meals")
}

// TestRunIsDeterministic guards the fixed clock and seeded ids: two runs print
// the same bytes.
func TestRunIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, run(context.Background(), &a, "instrument.json", instrumentJSON))
	require.NoError(t, run(context.Background(), &b, "instrument.json", instrumentJSON))
	require.Equal(t, a.String(), b.String())
}

// TestBrokenVariants checks that each broken definition fails with a positioned
// *DefinitionError wrapping referral.ErrInvalid.
func TestBrokenVariants(t *testing.T) {
	paths := map[string]string{
		"rule names an item that does not exist": "rules[3].expr",
		"two items share an id":                  "items[5].id",
		"bands overlap":                          "bands[1].min",
		"malformed JSON (a comma missing)":       "",
	}
	require.Len(t, variants, len(paths))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			bad, err := v.apply(instrumentJSON)
			require.NoError(t, err)
			_, err = screening.Parse("instrument.json", bad)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *screening.DefinitionError
			require.True(t, errors.As(err, &de))
			require.Equal(t, "instrument.json", de.Source)
			require.Positive(t, de.Line)
			require.Positive(t, de.Column)
			require.Equal(t, paths[v.name], de.Path)
		})
	}
}

// TestRunRejectsBadDefinition checks that run reports a broken instrument given
// with -instrument instead of scoring with it.
func TestRunRejectsBadDefinition(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, "mine.json", []byte(`{"id": "mine"`))
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.Empty(t, out.String())
}

// TestVariantMustMatchOnce checks that an edit that no longer fits the file is
// reported rather than leaving the definition unbroken.
func TestVariantMustMatchOnce(t *testing.T) {
	for _, v := range []variant{
		{name: "absent", old: "no such text", new: "x"},
		{name: "repeated", old: `"urgency": "routine"`, new: "x"},
	} {
		_, err := v.apply(instrumentJSON)
		require.Error(t, err, v.name)
	}
}
