package harness

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/refkit/refkit/matching/synth/internal/rulemix"
)

var factRef = regexp.MustCompile(`@[a-z_]+`)

// sqlRule returns the CASE expression that evaluates a row's rule, by template
// number in the column rule. Unknown facts are bound as NULL, and SQL's
// three-valued logic is the engine's: "true OR NULL" passes, "false AND NULL"
// fails, and a predicate left NULL excludes the row as the engine's
// "unknown-fact" does, so no rule needs a guard.
func sqlRule() string {
	var b strings.Builder
	b.WriteString("CASE rule")
	for i, t := range rulemix.Templates {
		b.WriteString(" WHEN " + strconv.Itoa(i) + " THEN (" + t.SQL + ")")
	}
	b.WriteString(" ELSE false END")
	return b.String()
}
