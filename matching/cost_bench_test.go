package matching

import (
	"strconv"
	"strings"
	"testing"
)

// worstEnv is the largest environment Request.Validate lets through: every
// collection at its maximum length, every string at its maximum size. Rules
// iterate all of it, and attribute values are long runs of one letter, the
// input that keeps a regular expression busiest.
func worstEnv() Env {
	pad := func(prefix string, n int) string { return prefix + strings.Repeat("a", n-len(prefix)) }
	e := Env{
		Age: 70, HouseholdSize: 8, IncomeAnnual: 25_000, FPLPercent: 120,
		Zip: pad("z", maxFieldText), County: pad("c", maxFieldText), State: "OH", Insurance: pad("i", maxFieldText),
		Veteran: true, Pregnant: true, Disabled: true, Urgency: "emergent",
		Attributes: make(map[string]string, maxAttributes),
	}
	for i := range maxLanguages {
		e.Languages = append(e.Languages, pad("l"+strconv.Itoa(i)+"-", 35))
	}
	for i := range MaxNeeds {
		e.Needs = append(e.Needs, pad("n"+strconv.Itoa(i)+"-", 64))
	}
	for i := range maxAttributes {
		e.Attributes[pad("k"+strconv.Itoa(i)+"-", maxAttributeKey)] = pad("", maxAttributeValue)
	}
	e.Attributes["a"] = pad("", maxAttributeValue)
	// Two-byte runes take the slow, rune-by-rune paths of case mapping.
	e.Attributes["u"] = strings.Repeat("é", maxAttributeValue/2)
	return e
}

// expensiveRules are rules built to sit just under the default limits, each
// stressing a different kind of work, all of them running to the end on
// worstEnv (count, filter and map do not stop early). The slowest is the
// "most expensive admitted rule" BENCHMARKS.md quotes.
var expensiveRules = []struct{ name, rule string }{
	{"nested closures", `count(1..15, {count(languages, {# == "zz"}) > 0}) >= 0`},
	{"keys in a closure", `count(1..11, {len(keys(attributes)) > 100}) >= 0`},
	{"map building lists", `len(map(1..5, {keys(attributes)})) + len(map(1..5, {values(attributes)})) > 0`},
	{"concatenation", `count(1..36, {len(attributes["a"] + attributes["a"]) > 3}) >= 0`},
	{"case mapping", `count(1..8, {upper(attributes["a"]) != "x"}) >= 0`},
	{"unicode case mapping", `count(1..3, {upper(attributes["u"]) != lower(attributes["u"])}) >= 0`},
	{"unicode trimming", `count(1..68, {len(trim(attributes["u"])) > 0}) >= 0`},
	{"substring search", `count(keys(attributes), {indexOf(attributes[#], "ab") >= 0}) >= 0`},
	{"rendering", `count(1..20, {string(needs) == "x"}) >= 0`},
	{"regular expression", `!(zip matches "(a|aa|aaa|aaaa|aaaaa|aaaaaa|aaaaaaa|aaaaaaaa|b)*(a+)+(a*)*(a|aa|aaa|aaaa|b)*c$")`},
	{"splitting", `count(1..4, {count(split(county, ""), {# == "b"}) > 0}) >= 0`},
	{"membership across types", `count(1..58, {[1, "x"][0] in languages}) >= 0`},
	{"list equality", `count(1..46, {languages == needs}) >= 0`},
}

// BenchmarkExpensiveRules times one evaluation of each rule in expensiveRules on
// the worst environment. Metrics: steps is the rule's stated worst-case cost,
// ns/step the time per step.
func BenchmarkExpensiveRules(b *testing.B) {
	r := newRules(RuleLimits{})
	env := any(worstEnv())
	for _, tt := range expensiveRules {
		b.Run(tt.name, func(b *testing.B) {
			ru, err := r.build(tt.rule)
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := r.run(ru.program, env); err != nil || !ok {
				b.Fatalf("the rule must run to true: %v %v", ok, err)
			}
			for b.Loop() {
				_, _ = r.run(ru.program, env)
			}
			b.ReportMetric(float64(ru.cost), "steps")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(ru.cost), "ns/step")
		})
	}
}
