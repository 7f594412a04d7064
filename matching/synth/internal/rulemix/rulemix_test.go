package rulemix

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLookupInvertsText(t *testing.T) {
	for i, tmpl := range Templates {
		counties := []string{""}
		if tmpl.PerCounty {
			counties = []string{"Cook", "St. Louis City", `O"Brien`, "Miami-Dade", ""}
		}
		for _, county := range counties {
			ref, ok := Lookup(tmpl.Text(county))
			require.True(t, ok, "template %d, county %q", i, county)
			require.Equal(t, Ref{Template: i, Arg: county}, ref)
		}
	}
}

func TestLookupRejectsForeignRules(t *testing.T) {
	for _, text := range []string{
		"income_annual < 1",
		"county == Cook",
		`county == "Cook" && veteran`,
		`county == "Cook`,
		"age >= 61",
		" veteran",
	} {
		t.Run(text, func(t *testing.T) {
			_, ok := Lookup(text)
			require.False(t, ok)
		})
	}
}

func TestTemplatesAreDistinctAndWeighted(t *testing.T) {
	seen := map[string]bool{}
	for i, tmpl := range Templates {
		require.Positive(t, tmpl.Weight, "template %d", i)
		require.NotEmpty(t, tmpl.SQL, "template %d", i)
		require.False(t, seen[tmpl.Expr], "template %d repeats %q", i, tmpl.Expr)
		seen[tmpl.Expr] = true
	}
	require.Empty(t, Templates[0].Expr, "template 0 is no rule")
}
