package matching

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCompileRule times compiling one distinct rule text, skeleton and
// clauses included: what New pays per distinct rule.
func BenchmarkCompileRule(b *testing.B) {
	var clauses []string
	for i := range 120 {
		clauses = append(clauses, "age > "+strconv.Itoa(i))
	}
	for _, tt := range []struct{ name, rule string }{
		{"simple", `fpl_percent <= 200 && household_size >= 1`},
		{"three-valued", `veteran || (fpl_percent <= 138 && !disabled) || attributes["tribal"] == "yes"`},
		{"120 clauses", strings.Join(clauses, " && ")},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := newRules(RuleLimits{})
			for b.Loop() {
				if _, err := r.build(tt.rule); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
