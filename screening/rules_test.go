package screening

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/rulecost/corpus"
	"github.com/refkit/refkit/referral"
)

// exprInstrument is a host instrument with two integer items and one expr rule.
func exprInstrument(rule string) []byte {
	r, _ := json.Marshal(rule)
	return []byte(`{"id": "x", "version": "1", "title": "X", "items": [
	  {"id": "a", "key": "a", "text": "A?", "type": "integer", "min": -50, "max": 5000},
	  {"id": "b", "key": "b", "text": "B?", "type": "integer", "min": 0, "max": 100}],
	 "rules": [{"id": "r", "flag": "f", "urgency": "routine", "expr": ` + string(r) + `}]}`)
}

// Instrument expr rules go through the same cost analysis as eligibility
// rules, with a smaller budget: a rule is scored on every response.
func TestExprRuleLimits(t *testing.T) {
	tests := []struct {
		name, rule, wantErr string
	}{
		{"plain", `item("a") * item("b") >= 150`, ""},
		{"closure over a short range", `any(1..10, {item("a") == #})`, ""},
		{"issue 19's rule", `let r = 1..1000; all(r, {all(r, {all(r, {item("a") > 0})})})`, "range 1..1000 is longer than 100"},
		{"nested too deep", `all(1..3, {all(1..3, {all(1..3, {item("a") > #})})})`, "closures nest deeper than 2"},
		{"too costly", `all(1..100, {all(1..100, {item("a") > #})})`, "worst-case cost"},
		{"range bound not a literal", `len(1..item("a")) > 0`, "cannot bound the size of a range"},
		{"builtin off the list", `reduce(1..10, #acc + #, 0) > item("a")`, "builtin reduce is not allowed"},
		{"no patterns", `"a" matches "a" && item("a") > 0`, "matches is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Parse("x.json", exprInstrument(tt.rule))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, in)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *DefinitionError
			require.ErrorAs(t, err, &de)
			require.Contains(t, err.Error(), "column", "the error points into the expression")
		})
	}
}

// An expr rule that fails at run time on an answer leaves the rule
// indeterminate; nothing in the result, marshalled, carries the answers.
func TestExprRuleFailureKeepsAnswersOut(t *testing.T) {
	in, err := Parse("x.json", exprInstrument(`item("a") % item("b") == 0 || item("a") / item("b") > 4`))
	require.NoError(t, err)
	r := in.NewResponse()
	require.NoError(t, r.Answer("a", "4391"))
	require.NoError(t, r.Answer("b", "0"))
	res := r.Score()
	require.Equal(t, []string{"r"}, res.Indeterminate)
	out, err := json.Marshal(res.Indeterminate)
	require.NoError(t, err)
	require.NotContains(t, string(out), "4391")
	require.NotContains(t, string(out), "divide")
}

// FuzzExprRule compiles arbitrary instrument expr rules, starting from the
// hostile corpus. A rejection is a definition error wrapping
// referral.ErrInvalid; an admitted rule, run on any answers, never reaches the
// VM's memory budget, which the analysis keeps it under.
func FuzzExprRule(f *testing.F) {
	cases, err := corpus.Load("../matching/testdata/hostile_rules.txt")
	require.NoError(f, err)
	for _, c := range cases {
		f.Add(c.Rule)
		f.Add(strings.NewReplacer("age", `item("a")`, "household_size", `item("b")`).Replace(c.Rule))
	}
	f.Add(`item("a") % (item("b") - item("b")) == 0`)
	f.Add(`count(1..100, {# > item("a")}) > item("b")`)
	f.Fuzz(func(t *testing.T, rule string) {
		in, err := Parse("x.json", exprInstrument(rule))
		if err != nil {
			var de *DefinitionError
			require.True(t, errors.As(err, &de), "%T %v", err, err)
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		program := in.rules[0].program
		require.NotNil(t, program)
		run := runners.Get().(*runner)
		defer runners.Put(run)
		for _, v := range [][]int{{0, 0}, {-50, 100}, {5000, 1}, {7, 3}} {
			run.values = v
			m := vm.VM{MemoryBudget: memoryBudget}
			_, err := m.Run(program, run.env)
			if err != nil {
				require.NotContains(t, err.Error(), "memory budget exceeded", "rule %q on %v", rule, v)
			}
		}
	})
}
