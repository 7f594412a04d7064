package screening

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/refkit/refkit/internal/rulecost"
)

type ruleKind uint8

const (
	ruleAnswers ruleKind = iota + 1
	ruleSum
	ruleTotal
	ruleExpr
)

// compiledRule is a rule with item ids resolved to indexes and answer codes to
// option bit sets, so evaluating it reads only slices.
type compiledRule struct {
	kind    ruleKind
	matches []match // ruleAnswers
	items   []int   // ruleSum and ruleExpr: items that must have values
	atLeast int     // ruleSum and ruleTotal
	program *vm.Program
}

type match struct {
	item    int
	options uint64
}

func (in *Instrument) compileRule(at path, r *Rule) (compiledRule, error) {
	if r.Domain == "" && r.Flag == "" && !in.counts(r.ID) {
		return compiledRule{}, problem(at, "needs a domain, a flag or both, unless the total counts it")
	}
	if r.Domain != "" {
		if err := r.Domain.Validate(); err != nil {
			return compiledRule{}, problem(at.key("domain"), "is not a registered domain code")
		}
	}
	if r.Flag != "" && (!kebab.MatchString(r.Flag) || len(r.Flag) > 64) {
		return compiledRule{}, problem(at.key("flag"), "must be lower-case kebab-case of 1 to 64 characters")
	}
	if err := r.Urgency.Validate(); err != nil {
		return compiledRule{}, problem(at.key("urgency"), "must be routine, urgent or emergent")
	}
	kinds := 0
	for _, set := range []bool{len(r.Answers) > 0, r.Sum != nil, r.TotalAtLeast != nil, r.Expr != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return compiledRule{}, problem(at, "needs exactly one of answers, sum, total_at_least and expr")
	}
	switch {
	case len(r.Answers) > 0:
		cr := compiledRule{kind: ruleAnswers}
		for j, m := range r.Answers {
			mat := at.key("answers").index(j)
			i, ok := in.byID[m.Item]
			if !ok {
				return compiledRule{}, problem(mat.key("item"), "names no item of this instrument")
			}
			if in.Items[i].freeEntry() {
				return compiledRule{}, problem(mat.key("item"), "names %s item %s, which has no answer codes: use sum or expr", in.Items[i].Type, m.Item)
			}
			if len(m.Codes) == 0 {
				return compiledRule{}, problem(mat.key("codes"), "needs at least one answer code")
			}
			var set uint64
			for k, c := range m.Codes {
				o := optionByCode(in.Items[i].Options, c)
				if o < 0 {
					return compiledRule{}, problem(mat.key("codes").index(k), "is not an answer code of item %s", m.Item)
				}
				set |= 1 << o
			}
			cr.matches = append(cr.matches, match{item: i, options: set})
		}
		return cr, nil
	case r.Sum != nil:
		idx, err := in.valuedItems(at.key("sum").key("items"), r.Sum.Items)
		if err != nil {
			return compiledRule{}, err
		}
		if len(idx) == 0 {
			return compiledRule{}, problem(at.key("sum").key("items"), "needs at least one item")
		}
		return compiledRule{kind: ruleSum, items: idx, atLeast: r.Sum.AtLeast}, nil
	case r.TotalAtLeast != nil:
		if in.Total == nil {
			return compiledRule{}, problem(at.key("total_at_least"), "needs the instrument to have a total")
		}
		return compiledRule{kind: ruleTotal, atLeast: *r.TotalAtLeast}, nil
	default:
		return in.compileExpr(at.key("expr"), r.Expr)
	}
}

func optionByCode(opts []Option, code string) int {
	for i := range opts {
		if opts[i].Code == code {
			return i
		}
	}
	return -1
}

// ruleEnv is the environment rule expressions run in. Its single field is a
// function, so the struct is pointer-shaped: passing it to vm.Run as an
// interface does not allocate, and calling item goes through expr's typed-call
// fast path rather than reflection.
type ruleEnv struct {
	// Item returns the value of the item at an index: the chosen option's
	// value, or the number given to an integer item. Expressions name items by
	// id; the compiler rewrites item("71802-3") to item(<index>).
	Item func(int) int `expr:"item"`
}

// itemPatcher rewrites item("<id>") calls to item(<index>) and records which
// items an expression reads.
type itemPatcher struct {
	in    *Instrument
	items []int
	err   error
}

func (p *itemPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || p.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "item" {
		return
	}
	loc := call.Location()
	if len(call.Arguments) != 1 {
		p.err = exprError(loc, "item() takes one quoted item id")
		return
	}
	s, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		p.err = exprError(loc, "item() takes a quoted item id, not an expression")
		return
	}
	i, ok := p.in.byID[s.Value]
	if !ok {
		p.err = exprError(loc, "item(\""+s.Value+"\") names no item of this instrument")
		return
	}
	if !p.in.Items[i].valued || p.in.Items[i].Multiple {
		p.err = exprError(loc, "item(\""+s.Value+"\") has no numeric values")
		return
	}
	if !containsInt(p.items, i) {
		p.items = append(p.items, i)
	}
	ast.Patch(&call.Arguments[0], &ast.IntegerNode{Value: i})
}

type exprPositionError struct {
	from    int
	message string
}

func (e *exprPositionError) Error() string { return e.message }

func exprError(loc file.Location, msg string) error {
	return &exprPositionError{from: loc.From, message: msg}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// exprBuiltins are the expr builtins a rule may use; everything else is off,
// since definitions may come from hosts' users.
var exprBuiltins = []string{"abs", "min", "max", "len", "all", "any", "none", "one", "count", "sum"}

// exprLimits bound what an instrument's expr rule may cost, checked when the
// instrument is compiled (see internal/rulecost): a rule is scored on every
// response, so the budget is a tenth of an eligibility rule's. memoryBudget is
// the VM's run-time net, which an admitted rule can never reach.
var exprLimits = rulecost.Limits{MaxCost: 1000, MaxDepth: 2, MaxRange: 100, MaxMemory: memoryBudget - 1}

const memoryBudget = 1000

// exprEnv is the rule environment as the cost analysis sees it: item(i) is a
// slice read.
var exprEnv = &rulecost.Env{
	Funcs: map[string]rulecost.Func{"item": {
		Cost:   func([]rulecost.Shape) int64 { return 1 },
		Result: func([]rulecost.Shape) rulecost.Shape { return rulecost.ScalarShape() },
	}},
	Builtins: exprBuiltins,
}

func (in *Instrument) compileExpr(at path, src string) (compiledRule, error) {
	if len(src) > maxExpr {
		return compiledRule{}, problem(at, "is longer than %d characters", maxExpr)
	}
	p := &itemPatcher{in: in}
	opts := []expr.Option{
		expr.Env(ruleEnv{}),
		expr.AsBool(),
		expr.Patch(p),
		expr.MaxNodes(500),
		expr.DisableAllBuiltins(),
	}
	for _, b := range exprBuiltins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	prog, _, err := rulecost.Compile(src, rulecost.Config(opts...), exprEnv, exprLimits)
	if p.err != nil {
		err = p.err
	}
	if err != nil {
		return compiledRule{}, problem(at, "%s", describeExprError(src, err))
	}
	if len(p.items) == 0 {
		return compiledRule{}, problem(at, "reads no item: use item(\"<id>\")")
	}
	return compiledRule{kind: ruleExpr, items: p.items, program: prog}, nil
}

// describeExprError renders an expression error on one line with the column in
// the expression where it is.
func describeExprError(src string, err error) string {
	var pe *exprPositionError
	if errors.As(err, &pe) {
		return "column " + strconv.Itoa(pe.from+1) + ": " + pe.message
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		return "column " + strconv.Itoa(fe.Column+1) + ": " + fe.Message
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// runner is the per-goroutine state for running rule programs: a reused VM and
// an environment bound to the values of the response being scored.
type runner struct {
	vm     vm.VM
	values []int
	env    ruleEnv
}

var runners = sync.Pool{New: func() any {
	r := &runner{vm: vm.VM{MemoryBudget: memoryBudget}}
	r.env.Item = r.item
	return r
}}

func (r *runner) item(i int) int { return r.values[i] }

// run evaluates a compiled expression. ok is false when it failed at run time
// (a division by zero, say), which type checking cannot rule out; the caller
// then reports the rule as indeterminate. expr's message is dropped: it may
// quote the answers.
func (r *runner) run(p *vm.Program) (holds, ok bool) {
	out, err := r.vm.Run(p, r.env)
	if err != nil {
		return false, false
	}
	b, isBool := out.(bool)
	return b, isBool
}
