package harness

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/refkit/refkit/matching/synth/internal/rulemix"
)

// nullableFacts are the facts a request may leave unknown; they are bound as SQL
// NULL, and a rule naming one is guarded so it fails, as the engine's
// "unknown-fact" exclusion does.
var nullableFacts = map[string]bool{"age": true, "household_size": true, "income_annual": true, "fpl_percent": true}

var factRef = regexp.MustCompile(`@[a-z_]+`)

// sqlRule returns the CASE expression that evaluates a row's rule, by template
// number in the column rule.
func sqlRule() string {
	var b strings.Builder
	b.WriteString("CASE rule")
	for i, t := range rulemix.Templates {
		var guards []string
		seen := map[string]bool{}
		for _, ref := range factRef.FindAllString(t.SQL, -1) {
			name := ref[1:]
			if nullableFacts[name] && !seen[name] {
				seen[name] = true
				guards = append(guards, ref+" IS NOT NULL")
			}
		}
		pred := "(" + t.SQL + ")"
		if len(guards) > 0 {
			pred = "(" + strings.Join(guards, " AND ") + " AND " + pred + ")"
		}
		b.WriteString(" WHEN " + strconv.Itoa(i) + " THEN " + pred)
	}
	b.WriteString(" ELSE false END")
	return b.String()
}
