// Package rulemix is the eligibility-rule mix of the synthetic directory, each
// rule written twice: the expr text the matching engine compiles and the SQL
// predicate the PostGIS comparison evaluates. The generator (matching/synth)
// draws rule texts from it; the harness (matching/synth/harness) maps them back
// to their SQL form. The two forms sit in one table so they cannot drift apart
// unseen; the harness's TestRuleTemplatesAgree checks them against each other on
// sample persons. It is internal so that neither the SQL nor the table becomes
// part of the generator's API.
package rulemix

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is one kind of eligibility rule in the mix.
type Template struct {
	// Weight is the template's share of the mix.
	Weight int
	// Expr is the rule text; for a PerCounty template it is a format with one %q,
	// filled with the county of the service's metro.
	Expr      string
	PerCounty bool
	// SQL is the same predicate over the request's facts, written @fact with the
	// expr vocabulary's names, and the row's rule_arg (the county of a PerCounty
	// template). Unknown facts are NULL, and SQL's three-valued logic is the
	// engine's, so the harness needs no guard.
	SQL string
}

// Templates is the realistic rule mix: most services have no rule or a simple
// one, and many share the same text. Template 0 is "no rule". The order and
// weights shape the generated directory: changing them changes every benchmark.
var Templates = []Template{
	{Weight: 30, Expr: "", SQL: "true"},
	{Weight: 8, Expr: "fpl_percent <= 138", SQL: "@fpl_percent <= 138"},
	{Weight: 12, Expr: "fpl_percent <= 200", SQL: "@fpl_percent <= 200"},
	{Weight: 5, Expr: "fpl_percent <= 400", SQL: "@fpl_percent <= 400"},
	{Weight: 5, Expr: "age >= 60", SQL: "@age >= 60"},
	{Weight: 6, Expr: "age >= 18", SQL: "@age >= 18"},
	{Weight: 3, Expr: "age < 18 || pregnant", SQL: "@age < 18 OR @pregnant"},
	{Weight: 2, Expr: "age >= 18 && age < 25", SQL: "@age >= 18 AND @age < 25"},
	{Weight: 3, Expr: "veteran", SQL: "@veteran"},
	// speaks: the primary subtag of one of the person's (lower-cased) tags is "es".
	{Weight: 3, Expr: `speaks("es")`, SQL: "EXISTS (SELECT 1 FROM unnest(@languages) AS l WHERE split_part(l, '-', 1) = 'es')"},
	{Weight: 4, Expr: "fpl_percent <= 200 && household_size >= 2", SQL: "@fpl_percent <= 200 AND @household_size >= 2"},
	{Weight: 3, Expr: "fpl_percent <= 138 && age >= 18", SQL: "@fpl_percent <= 138 AND @age >= 18"},
	{Weight: 3, Expr: "disabled || age >= 65", SQL: "@disabled OR @age >= 65"},
	{Weight: 2, Expr: `has_need("food-insecurity") && fpl_percent <= 185`, SQL: "'food-insecurity' = ANY(@needs) AND @fpl_percent <= 185"},
	{Weight: 10, Expr: "county == %q", PerCounty: true, SQL: "@county = rule_arg"},
}

// Text returns the template's rule text for a service in county.
func (t Template) Text(county string) string {
	if t.PerCounty {
		return fmt.Sprintf(t.Expr, county)
	}
	return t.Expr
}

// Ref names the template a rule text came from, and its county for a PerCounty
// template.
type Ref struct {
	Template int
	Arg      string
}

// fixed maps the rule text of every template that is not PerCounty to it.
var fixed = func() map[string]int {
	m := map[string]int{}
	for i, t := range Templates {
		if !t.PerCounty {
			m[t.Expr] = i
		}
	}
	return m
}()

// Lookup returns the template text was made from: Text inverted. A PerCounty
// text is recognised by its format around a quoted county, so any county
// round-trips, not only the generator's metros.
func Lookup(text string) (Ref, bool) {
	if i, ok := fixed[text]; ok {
		return Ref{Template: i}, true
	}
	for i, t := range Templates {
		if !t.PerCounty {
			continue
		}
		prefix, suffix, _ := strings.Cut(t.Expr, "%q")
		quoted, ok := strings.CutPrefix(text, prefix)
		if !ok {
			continue
		}
		if quoted, ok = strings.CutSuffix(quoted, suffix); !ok {
			continue
		}
		county, err := strconv.Unquote(quoted)
		if err != nil || t.Text(county) != text {
			continue
		}
		return Ref{Template: i, Arg: county}, true
	}
	return Ref{}, false
}
