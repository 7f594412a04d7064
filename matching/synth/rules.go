package synth

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ruleTemplate is one kind of eligibility rule in the generator's mix, written
// twice: the expr text the matching engine compiles and the SQL predicate the
// PostGIS comparison evaluates. The two forms sit in one table so they cannot
// drift apart unseen; TestRuleTemplatesAgree checks them against each other on
// sample persons.
type ruleTemplate struct {
	// weight is the template's share of the mix.
	weight int
	// expr is the rule text; for a perCounty template it is a format with one %q,
	// filled with the county of the service's metro.
	expr      string
	perCounty bool
	// sql is the same predicate over the request's facts, written @fact with the
	// expr vocabulary's names, and the row's rule_arg (the county of a perCounty
	// template). Unknown facts are NULL, and SQL's three-valued logic is the
	// engine's: "true OR NULL" passes, "false AND NULL" fails, and a predicate
	// left NULL excludes the row as the engine's "unknown-fact" does.
	sql string
}

// ruleTemplates is the realistic rule mix: most services have no rule or a simple
// one, and many share the same text. Template 0 is "no rule". The order and
// weights shape the generated directory: changing them changes every benchmark.
var ruleTemplates = []ruleTemplate{
	{weight: 30, expr: "", sql: "true"},
	{weight: 8, expr: "fpl_percent <= 138", sql: "@fpl_percent <= 138"},
	{weight: 12, expr: "fpl_percent <= 200", sql: "@fpl_percent <= 200"},
	{weight: 5, expr: "fpl_percent <= 400", sql: "@fpl_percent <= 400"},
	{weight: 5, expr: "age >= 60", sql: "@age >= 60"},
	{weight: 6, expr: "age >= 18", sql: "@age >= 18"},
	{weight: 3, expr: "age < 18 || pregnant", sql: "@age < 18 OR @pregnant"},
	{weight: 2, expr: "age >= 18 && age < 25", sql: "@age >= 18 AND @age < 25"},
	{weight: 3, expr: "veteran", sql: "@veteran"},
	// speaks: the primary subtag of one of the person's (lower-cased) tags is "es".
	{weight: 3, expr: `speaks("es")`, sql: "EXISTS (SELECT 1 FROM unnest(@languages) AS l WHERE split_part(l, '-', 1) = 'es')"},
	{weight: 4, expr: "fpl_percent <= 200 && household_size >= 2", sql: "@fpl_percent <= 200 AND @household_size >= 2"},
	{weight: 3, expr: "fpl_percent <= 138 && age >= 18", sql: "@fpl_percent <= 138 AND @age >= 18"},
	{weight: 3, expr: "disabled || age >= 65", sql: "@disabled OR @age >= 65"},
	{weight: 2, expr: `has_need("food-insecurity") && fpl_percent <= 185`, sql: "'food-insecurity' = ANY(@needs) AND @fpl_percent <= 185"},
	{weight: 10, expr: "county == %q", perCounty: true, sql: "@county = rule_arg"},
}

// text returns the template's rule text for a service in county.
func (t ruleTemplate) text(county string) string {
	if t.perCounty {
		return fmt.Sprintf(t.expr, county)
	}
	return t.expr
}

// ruleRef names the template a rule text came from, and its county for a
// perCounty template.
type ruleRef struct {
	template int
	arg      string
}

// ruleRefs maps every rule text the generator can produce to its template.
var ruleRefs = func() map[string]ruleRef {
	m := map[string]ruleRef{}
	for i, t := range ruleTemplates {
		if !t.perCounty {
			m[t.text("")] = ruleRef{template: i}
			continue
		}
		for _, mt := range metros {
			m[t.text(mt.county)] = ruleRef{template: i, arg: mt.county}
		}
	}
	return m
}()

var factRef = regexp.MustCompile(`@[a-z_]+`)

// sqlRule returns the CASE expression that evaluates a row's rule, by template
// number in the column rule.
func sqlRule() string {
	var b strings.Builder
	b.WriteString("CASE rule")
	for i, t := range ruleTemplates {
		b.WriteString(" WHEN " + strconv.Itoa(i) + " THEN (" + t.sql + ")")
	}
	b.WriteString(" ELSE false END")
	return b.String()
}
