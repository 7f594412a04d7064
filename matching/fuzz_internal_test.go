package matching

import (
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/rulecost/corpus"
	"github.com/refkit/refkit/referral"
)

// FuzzRule feeds arbitrary texts to the rule compiler, starting from the hostile
// corpus. A rejection must be a *RuleError wrapping referral.ErrInvalid. An
// admitted rule must keep its stated bounds: its cost within the limit, and on
// random environments as large as requests allow, it must never make the VM
// allocate more than the analysis said (the VM runs with exactly that budget).
// Its three-valued skeleton must agree with its program whenever every fact is
// known, failures included, and so must its native form when it has one (which
// never fails).
func FuzzRule(f *testing.F) {
	cases, err := corpus.Load("testdata/hostile_rules.txt")
	require.NoError(f, err)
	for _, c := range cases {
		f.Add(c.Rule)
	}
	for _, s := range []string{
		"age >= 18", `has_need("food-insecurity") && speaks("es")`, `len(languages) > 0 ? true : false`,
		`age >`, `1/0 == 1`, `map(1..1000000, #) != nil`, `"a" matches "("`, `let x = age; x > 3`,
		`veteran ? pregnant : !disabled || attributes["a"] == zip`,
	} {
		f.Add(s)
	}
	r := newRules(RuleLimits{})
	f.Fuzz(func(t *testing.T, text string) {
		ru, err := r.build(text)
		if err != nil {
			var re *RuleError
			require.True(t, errors.As(err, &re), "%T %v", err, err)
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.LessOrEqual(t, ru.cost, r.limits.MaxCost)
		require.Less(t, ru.memory, int64(r.limits.MemoryBudget))
		h := fnv.New64a()
		h.Write([]byte(text))
		rnd := rand.New(rand.NewPCG(h.Sum64(), 7))
		for range 8 {
			e := randomEnv(rnd)
			env := any(e)
			m := &vm.VM{MemoryBudget: uint(ru.memory) + 1}
			out, err := m.Run(ru.program, env)
			if err != nil {
				require.NotContains(t, err.Error(), "memory budget exceeded", "rule %q allocated more than its bound %d", text, ru.memory)
			}
			if ru.native != nil {
				require.NoError(t, err, "rule %q has a native form but its program failed", text)
				require.Equal(t, out.(bool), ru.native(&e), "rule %q: native form and program differ", text)
			}
			if ru.skeleton == nil {
				continue
			}
			got, _, serr := r.judge(ru.skeleton, env, &e, facts{})
			switch {
			case err != nil:
				require.Equal(t, isError, got, "rule %q: the program failed (%v), the skeleton did not", text, err)
			case serr != nil:
				t.Fatalf("rule %q: the skeleton failed (%v), the program did not", text, serr)
			default:
				require.Equal(t, truthOf(out.(bool)), got, "rule %q", text)
			}
		}
	})
}

// randomEnv is an environment within the sizes Request.Validate allows, its
// values drawn to reach the attribute keys and strings rules in the corpus
// test: numbers, text that is not a number, non-ASCII text, empty values.
func randomEnv(r *rand.Rand) Env {
	text := func(max int) string {
		switch r.IntN(5) {
		case 0:
			return ""
		case 1:
			return strconv.Itoa(r.IntN(2000) - 1000)
		case 2:
			return strings.Repeat("é", r.IntN(max/2+1))
		case 3:
			return strings.Repeat("a", r.IntN(max+1))
		}
		return []string{"es", "x_1", "Cook", "94612", "columbus", "yes", "seven"}[r.IntN(7)]
	}
	e := Env{
		Age: r.IntN(120) - 1, HouseholdSize: r.IntN(12) - 1, IncomeAnnual: float64(r.IntN(200_000)) - 1,
		FPLPercent: r.Float64() * 600, Zip: text(maxFieldText), County: text(maxFieldText), State: "CA",
		Insurance: text(maxFieldText), Veteran: r.IntN(2) == 0, Pregnant: r.IntN(2) == 0, Disabled: r.IntN(2) == 0,
		Urgency: "urgent", Attributes: map[string]string{},
	}
	for range r.IntN(maxLanguages + 1) {
		e.Languages = append(e.Languages, []string{"es", "en", "vi", "es-mx", "zz"}[r.IntN(5)])
	}
	for range r.IntN(MaxNeeds + 1) {
		e.Needs = append(e.Needs, []string{"food-insecurity", "homelessness", "x"}[r.IntN(3)])
	}
	keys := []string{"a", "n", "note", "x", "tribal", "school_district", "u"}
	for range r.IntN(maxAttributes + 1) {
		k := keys[r.IntN(len(keys))]
		if r.IntN(3) == 0 {
			k = "k" + strconv.Itoa(r.IntN(1000))
		}
		e.Attributes[k] = text(maxAttributeValue)
	}
	return e
}
