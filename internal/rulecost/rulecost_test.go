package rulecost_test

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/rulecost"
)

type testEnv struct {
	N int               `expr:"n"`
	S string            `expr:"s"`
	L []string          `expr:"l"`
	M map[string]string `expr:"m"`
}

// env declares l with up to size entries.
func env(size int64) *rulecost.Env {
	return &rulecost.Env{
		Vars: map[string]rulecost.Shape{
			"n": rulecost.ScalarShape(), "s": rulecost.StringShape(100),
			"l": rulecost.ListShape(size, rulecost.StringShape(5)),
			"m": rulecost.MapShape(10, rulecost.StringShape(4), rulecost.StringShape(50)),
		},
		Builtins: rulecost.Known,
	}
}

var limits = rulecost.Limits{MaxCost: 1 << 40, MaxDepth: 3, MaxRange: 1000, MaxMemory: 1 << 40, MaxPattern: 200}

func compile(t *testing.T, text string, e *rulecost.Env, lim rulecost.Limits) (*vm.Program, rulecost.Report, error) {
	t.Helper()
	opts := []expr.Option{expr.Env(testEnv{}), expr.AsBool(), expr.DisableAllBuiltins()}
	for _, b := range rulecost.Known {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	return rulecost.Compile(text, rulecost.Config(opts...), e, lim)
}

func cost(t *testing.T, text string, size int64) int64 {
	t.Helper()
	_, rep, err := compile(t, text, env(size), limits)
	require.NoError(t, err, text)
	return rep.Cost
}

// The cost model's shape: iteration charges its body per element, nesting
// multiplies, string work grows with size, both branches of a conditional
// count, and x in a..b over an integer costs what a comparison does.
func TestCostModel(t *testing.T) {
	t.Run("a closure is charged per element", func(t *testing.T) {
		c10, c20 := cost(t, `any(l, {# == "x"})`, 10), cost(t, `any(l, {# == "x"})`, 20)
		require.Greater(t, c20, c10)
		require.InDelta(t, 2, float64(c20)/float64(c10), 0.2)
	})
	t.Run("nested closures multiply", func(t *testing.T) {
		one, two := cost(t, `any(l, {true})`, 40), cost(t, `any(l, {any(l, {true})})`, 40)
		require.GreaterOrEqual(t, two, 40*one)
	})
	t.Run("string work grows with size", func(t *testing.T) {
		short, long := cost(t, `upper(m["a"]) == "x"`, 1), cost(t, `upper(s) == "x"`, 1)
		require.Greater(t, long, short)
	})
	t.Run("both branches of a conditional count", func(t *testing.T) {
		branch := cost(t, `any(l, {true})`, 40)
		require.Greater(t, cost(t, `n > 1 ? any(l, {true}) : any(l, {false})`, 40), 2*branch)
	})
	t.Run("integer in a literal range is a comparison", func(t *testing.T) {
		require.Less(t, cost(t, `n in 0..1000000`, 1), int64(10))
	})
	t.Run("let carries its value's size", func(t *testing.T) {
		require.Greater(t, cost(t, `let x = s + s; upper(x) == ""`, 1), cost(t, `upper(s) == ""`, 1))
	})
}

// Rejections name the reason and point at the node responsible.
func TestRejections(t *testing.T) {
	tight := rulecost.Limits{MaxCost: 2000, MaxDepth: 2, MaxRange: 100, MaxMemory: 500, MaxPattern: 50}
	tests := []struct {
		name, rule, msg string
		line, column    int
	}{
		{"closure depth", "all(l, {all(l, {\n  all(l, {true})})})", "closures nest deeper than 2", 2, 9},
		{"range length", "len(1..1000) > 0", "range 1..1000 is longer than 100", 1, 5},
		{"range bounds", "len(1..n) > 0", "cannot bound the size of a range", 1, 5},
		{"total cost at the smallest part over it", "n > 0 && any(l, {any(l, {upper(s) == #})})", "worst-case cost", 1, 17},
		{"memory", "len(map(1..60, {[#, #, #, #, #, #, #, #, #]})) > 0", "may allocate", 1, 4},
		{"pattern not constant", "s matches s", "matches needs a constant pattern", 1, 2},
		{"pattern too large", `s matches "a{100}"`, "pattern may compile to", 1, 10},
		{"builtin not allowed", "reduce(l, #acc + #, \"\") == s", "builtin reduce is not allowed", 1, 0},
		{"$env", `$env.s == "x"`, "$env is not allowed", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := compile(t, tt.rule, env(50), tight)
			require.ErrorContains(t, err, tt.msg)
			var fe *file.Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.line, fe.Line, "line")
			require.Equal(t, tt.column, fe.Column, "column")
		})
	}
}

// The memory bound is the VM's own count: a rule run with the bound as its
// budget trips it, one more element and it never does. (The bound may exceed
// the count where expr's optimizer saves an allocation, as it does for
// len(filter(...)); it is never below it.)
func TestMemoryBoundIsTheVMs(t *testing.T) {
	text := `len(map(1..10, {# + n})) + len([n, n, n]) > 0`
	prog, rep, err := compile(t, text, env(7), limits)
	require.NoError(t, err)
	require.Equal(t, int64(10+10+3), rep.Memory)
	run := func(budget int64) error {
		m := vm.VM{MemoryBudget: uint(budget)}
		_, err := m.Run(prog, testEnv{L: []string{"a", "b", "c", "d", "e", "f", "g"}})
		return err
	}
	require.NoError(t, run(rep.Memory+1))
	require.ErrorContains(t, run(rep.Memory), "memory budget exceeded")
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1200000: "1,200,000", 1 << 60: "more than 1,152,921,504,606,846,975"} {
		require.Equal(t, want, rulecost.Thousands(n))
	}
}
