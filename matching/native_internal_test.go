package matching

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"
)

// nativeAgrees checks that text compiles, with a native form exactly when
// wantNative, and that the native form decides what the program decides on
// every env.
func nativeAgrees(t *testing.T, r *rules, text string, wantNative bool, envs []Env) {
	t.Helper()
	ru, err := r.build(text)
	require.NoError(t, err, "rule %q", text)
	require.Equal(t, wantNative, ru.native != nil, "rule %q: native form", text)
	if ru.native == nil {
		return
	}
	m := &vm.VM{}
	for i := range envs {
		out, err := m.Run(ru.program, envs[i])
		require.NoError(t, err, "rule %q", text)
		require.Equal(t, out.(bool), ru.native(&envs[i]), "rule %q, env %d", text, i)
	}
}

// The rules of the synthetic directory's mix, of the property tests and of the
// examples have native forms that agree with their programs; rules with parts
// outside the subset (closures, let, arithmetic, attributes, membership) keep
// the VM alone.
func TestNativeForms(t *testing.T) {
	r := newRules(RuleLimits{})
	rnd := rand.New(rand.NewPCG(4, 4))
	envs := make([]Env, 300)
	for i := range envs {
		envs[i] = randomEnv(rnd)
	}
	// Values at the edges of the comparisons, and of int/float conversion.
	envs = append(envs,
		Env{Age: 18, HouseholdSize: 2, FPLPercent: 138, IncomeAnnual: 0, County: "Cook"},
		Env{Age: 17, HouseholdSize: 1, FPLPercent: 138.00000000000003, County: "cook"},
		Env{Age: math.MaxInt, HouseholdSize: math.MinInt, FPLPercent: math.Inf(1), IncomeAnnual: math.MaxFloat64},
		Env{Age: -1, FPLPercent: -1, IncomeAnnual: -1, Needs: []string{"food-insecurity"}, Languages: []string{"es-mx"}},
	)
	tests := []struct {
		rule   string
		native bool
	}{
		{"age >= 18", true},
		{"fpl_percent <= 138", true},
		{"fpl_percent <= 200 && household_size >= 2", true},
		{"age < 18 || pregnant", true},
		{"age >= 18 && age < 25", true},
		{"disabled || age >= 65", true},
		{`has_need("food-insecurity") && fpl_percent <= 185`, true},
		{`speaks("es")`, true},
		{`county == "Cook"`, true},
		{`county != "Cook" and not veteran`, true},
		{"veteran", true},
		{"!(veteran && disabled) || income_annual > 20000.5", true},
		{"age == 18.0 || household_size != 3", true},
		{"fpl_percent > -1 && age > -1", true},
		{"veteran == pregnant", true},
		{`urgency == "emergent" || state == "CA" || zip == "94612" || insurance == "medicaid"`, true},
		{"true || false", true},
		{"1 < 2.5", true},
		{"pregnant ? age < 50 : disabled", false},
		{`attributes["tribal"] == "yes"`, false},
		{"household_size % 2 == 0", false},
		{"age + 1 > 18", false},
		{`state in ["CA", "OR"]`, false},
		{`let x = age; x > 3`, false},
		{`any(languages, {# == "es"})`, false},
		{`len(needs) > 1`, false},
		{`county < "M"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			nativeAgrees(t, r, tt.rule, tt.native, envs)
		})
	}
}

// nativeFields are the facts the native subset reads, by kind.
var (
	nativeInts    = []string{"age", "household_size"}
	nativeFloats  = []string{"income_annual", "fpl_percent"}
	nativeStrings = []string{"zip", "county", "state", "insurance", "urgency"}
	nativeBools   = []string{"veteran", "pregnant", "disabled"}
)

// ruleFrom builds a rule of the native subset from a fuzzer's bytes: every
// byte picks the next choice of a small grammar, so most inputs are rules.
type ruleFrom struct {
	b []byte
	i int
}

func (g *ruleFrom) pick(n int) int {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return int(g.b[g.i-1]) % n
}

func (g *ruleFrom) boolean(depth int) string {
	if depth > 4 {
		return nativeBools[g.pick(len(nativeBools))]
	}
	switch g.pick(9) {
	case 0:
		return "(" + g.boolean(depth+1) + " && " + g.boolean(depth+1) + ")"
	case 1:
		return "(" + g.boolean(depth+1) + " || " + g.boolean(depth+1) + ")"
	case 2:
		return "!(" + g.boolean(depth+1) + ")"
	case 3:
		return nativeStrings[g.pick(len(nativeStrings))] + []string{" == ", " != "}[g.pick(2)] + strconv.Quote([]string{"Cook", "", "CA", "es", "emergent", "94612"}[g.pick(6)])
	case 4:
		return `has_need("` + []string{"food-insecurity", "x", "homelessness"}[g.pick(3)] + `")`
	case 5:
		return `speaks("` + []string{"es", "en", "es-MX", "vi", "ZZ"}[g.pick(5)] + `")`
	case 6:
		return g.boolean(depth+1) + []string{" == ", " != "}[g.pick(2)] + nativeBools[g.pick(len(nativeBools))]
	case 7:
		return []string{"true", "false"}[g.pick(2)]
	}
	return g.number() + []string{" < ", " <= ", " > ", " >= ", " == ", " != "}[g.pick(6)] + g.number()
}

func (g *ruleFrom) number() string {
	switch g.pick(5) {
	case 0:
		return nativeInts[g.pick(len(nativeInts))]
	case 1:
		return nativeFloats[g.pick(len(nativeFloats))]
	case 2:
		return strconv.Itoa(g.pick(300) - 100)
	case 3:
		return strconv.FormatFloat(float64(g.pick(4000))/8-100, 'f', -1, 64)
	}
	return "-" + []string{"age", "fpl_percent", "1", "2.5"}[g.pick(4)]
}

// FuzzNativeAgreesWithVM builds rules of the native subset from the fuzzer's
// bytes and holds their native forms to their programs on random
// environments: every such rule must have a native form, and it must decide
// exactly what the program decides.
func FuzzNativeAgreesWithVM(f *testing.F) {
	for _, s := range []string{"", "\x08\x00\x00\x05\x02\x03\x01", "\x00\x08\x00\x04\x03\x01", "\x01\x03\x02\x00\x05\x06\x02", "\x02\x06\x05\x00\x07"} {
		f.Add([]byte(s), uint64(1))
	}
	r := newRules(RuleLimits{})
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		g := &ruleFrom{b: b}
		text := g.boolean(0)
		if strings.Count(text, "(") > 40 {
			return // past MaxNodes; not what this target tests
		}
		ru, err := r.build(text)
		if err != nil {
			return // rejected by the limits, which FuzzRule tests
		}
		require.NotNil(t, ru.native, "rule %q has no native form", text)
		rnd := rand.New(rand.NewPCG(seed, 9))
		m := &vm.VM{}
		for range 8 {
			e := randomEnv(rnd)
			out, err := m.Run(ru.program, e)
			require.NoError(t, err, "rule %q", text)
			require.Equal(t, out.(bool), ru.native(&e), "rule %q", text)
		}
	})
}
