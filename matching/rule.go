package matching

import (
	"errors"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Env is the environment eligibility rules are evaluated against: the rule
// vocabulary. It is passed to expr by value (a pointer environment is several times
// slower) and holds only request data, so a rule can reach nothing else.
//
// Numeric facts a request may leave unknown (age, household_size, income_annual,
// fpl_percent) read as -1 when unknown, but a rule that names an unknown fact is not
// evaluated at all: the service is excluded with the reason "unknown-fact".
type Env struct {
	// Age is whole years at the request's as_of time.
	Age int `expr:"age"`
	// HouseholdSize counts the people in the household, the person included.
	HouseholdSize int `expr:"household_size"`
	// IncomeAnnual is the household's annual income in US dollars.
	IncomeAnnual float64 `expr:"income_annual"`
	// FPLPercent is IncomeAnnual as a percent of the HHS poverty guideline for the
	// household size and the person's state, from the guideline in force at as_of.
	FPLPercent float64 `expr:"fpl_percent"`
	Zip        string  `expr:"zip"`
	County     string  `expr:"county"`
	// State is the two-letter USPS code.
	State string `expr:"state"`
	// Languages are the person's BCP 47 tags, lower-cased, in order of preference.
	Languages []string `expr:"languages"`
	Insurance string   `expr:"insurance"`
	Veteran   bool     `expr:"veteran"`
	Pregnant  bool     `expr:"pregnant"`
	Disabled  bool     `expr:"disabled"`
	// Needs are the domain codes of the request's needs.
	Needs []string `expr:"needs"`
	// Urgency is the most pressing urgency among the needs: routine, urgent, emergent.
	Urgency string `expr:"urgency"`
	// Attributes are host-defined facts about the person.
	Attributes map[string]string `expr:"attributes"`
}

// Facts a request may leave unknown, as bits of a mask.
const (
	factAge uint8 = 1 << iota
	factHousehold
	factIncome
	factFPL
)

var factNames = []struct {
	bit  uint8
	name string
}{{factAge, "age"}, {factHousehold, "household_size"}, {factIncome, "income_annual"}, {factFPL, "fpl_percent"}}

func factsOf(names map[string]bool) uint8 {
	var m uint8
	for _, f := range factNames {
		if names[f.name] {
			m |= f.bit
		}
	}
	return m
}

func factList(mask uint8) string {
	var parts []string
	for _, f := range factNames {
		if mask&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ", ")
}

// RuleLimits bound what an untrusted rule may cost.
type RuleLimits struct {
	// MaxLength is the longest rule text accepted, in bytes. Default 4096.
	MaxLength int
	// MaxNodes is the largest syntax tree accepted. Default 500.
	MaxNodes uint
	// MemoryBudget bounds the memory the VM may allocate while evaluating one rule
	// (expr's unit: roughly one per element built). Default 10,000.
	MemoryBudget uint
}

func (l RuleLimits) withDefaults() RuleLimits {
	if l.MaxLength <= 0 {
		l.MaxLength = 4096
	}
	if l.MaxNodes == 0 {
		l.MaxNodes = 500
	}
	if l.MemoryBudget == 0 {
		l.MemoryBudget = 10000
	}
	return l
}

// safeBuiltins are the expr builtins rules may use: pure functions over the
// environment. Clock, JSON, base64 and repetition builtins are left out, so a rule
// cannot read the time (results would not be deterministic) or build large values.
var safeBuiltins = []string{
	"all", "none", "any", "one", "filter", "map", "count", "len", "abs", "ceil", "floor", "round",
	"int", "float", "string", "trim", "upper", "lower", "split", "hasPrefix", "hasSuffix", "max", "min",
	"first", "last", "get", "keys", "values", "indexOf",
}

// rule is one compiled rule text, shared by every service that uses the same text.
type rule struct {
	text    string
	program *vm.Program
	// facts are the unknowable facts the rule names.
	facts uint8
	// clauses are the top-level conjuncts of the rule, compiled separately so an
	// explanation can say which one failed; nil when the rule is not a conjunction.
	clauses []clause
	// falseText is the explanation when the rule is false and no clause is.
	falseText string
}

type clause struct {
	text    string
	program *vm.Program
	// falseText is the explanation when this clause is false, built once.
	falseText string
}

// rules compiles rule texts once and shares the programs. Safe for concurrent use.
type rules struct {
	limits RuleLimits
	mu     sync.Mutex
	byText map[string]*rule
	vms    sync.Pool
}

func newRules(limits RuleLimits) *rules {
	r := &rules{limits: limits.withDefaults(), byText: map[string]*rule{}}
	budget := r.limits.MemoryBudget
	r.vms.New = func() any { return &vm.VM{MemoryBudget: budget} }
	return r
}

// compile returns the shared compiled rule for text.
func (r *rules) compile(text string) (*rule, error) {
	r.mu.Lock()
	if ru, ok := r.byText[text]; ok {
		r.mu.Unlock()
		return ru, nil
	}
	r.mu.Unlock()
	ru, err := r.build(text)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byText[text]; ok {
		return prev, nil
	}
	r.byText[text] = ru
	return ru, nil
}

func (r *rules) build(text string) (*rule, error) {
	if len(text) > r.limits.MaxLength {
		return nil, &RuleError{Message: "rule is longer than the limit"}
	}
	if strings.TrimSpace(text) == "" {
		return nil, &RuleError{Message: "rule is empty"}
	}
	for _, c := range text {
		if c == utf8.RuneError || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return nil, &RuleError{Message: "rule must be valid text without control characters"}
		}
	}
	names := map[string]bool{}
	program, err := r.program(text, names)
	if err != nil {
		return nil, err
	}
	ru := &rule{text: text, program: program, facts: factsOf(names), falseText: "rule is false: " + text}
	tree, err := parser.Parse(text)
	if err != nil {
		return nil, ruleError(err)
	}
	if parts := conjuncts(tree.Node, nil); len(parts) > 1 {
		for _, p := range parts {
			src := p.String()
			prog, err := r.program(src, nil)
			if err != nil {
				// A clause that does not stand alone (it uses a variable bound
				// elsewhere) only costs the explanation its precision.
				ru.clauses = nil
				break
			}
			ru.clauses = append(ru.clauses, clause{text: src, program: prog, falseText: "clause is false: " + src})
		}
	}
	return ru, nil
}

func (r *rules) program(text string, names map[string]bool) (*vm.Program, error) {
	opts := []expr.Option{
		expr.Env(Env{}),
		expr.AsBool(),
		expr.MaxNodes(r.limits.MaxNodes),
		expr.DisableAllBuiltins(),
	}
	for _, b := range safeBuiltins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	opts = append(opts,
		expr.Function("has_need", hasNeed, new(func([]string, string) bool)),
		expr.Function("speaks", speaks, new(func([]string, string) bool)),
		expr.Patch(&vocabulary{names: names}),
	)
	program, err := expr.Compile(text, opts...)
	if err != nil {
		return nil, ruleError(err)
	}
	return program, nil
}

func ruleError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if msg == "" {
			msg = "does not compile"
		}
		return &RuleError{Line: fe.Line, Column: fe.Column, Message: msg}
	}
	return &RuleError{Message: err.Error()}
}

// conjuncts splits a top-level chain of && into its operands.
func conjuncts(n ast.Node, out []ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		out = conjuncts(b.Left, out)
		return conjuncts(b.Right, out)
	}
	return append(out, n)
}

// vocabulary records the identifiers a rule names, and rewrites the one-argument
// helpers has_need(code) and speaks(tag) into their two-argument forms over the
// environment, so helpers need no access to the environment themselves.
type vocabulary struct{ names map[string]bool }

func (v *vocabulary) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if v.names != nil {
			v.names[n.Value] = true
		}
	case *ast.CallNode:
		callee, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 1 {
			return
		}
		var field string
		switch callee.Value {
		case "has_need":
			field = "needs"
		case "speaks":
			field = "languages"
		default:
			return
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: callee.Value},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: field}, n.Arguments[0]},
		})
	}
}

// hasNeed reports whether the request has a need in the domain code.
func hasNeed(params ...any) (any, error) {
	needs, _ := params[0].([]string)
	code, _ := params[1].(string)
	for _, n := range needs {
		if n == code {
			return true, nil
		}
	}
	return false, nil
}

// speaks reports whether the person speaks the language tag: "es" matches "es-MX".
func speaks(params ...any) (any, error) {
	langs, _ := params[0].([]string)
	tag, _ := params[1].(string)
	for _, l := range langs {
		if languageMatch(l, tag) {
			return true, nil
		}
	}
	return false, nil
}

// languageMatch compares BCP 47 tags by primary subtag, case-insensitively, and
// exactly when both carry a region or script.
func languageMatch(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	pa, _, ha := strings.Cut(a, "-")
	pb, _, hb := strings.Cut(b, "-")
	if ha && hb {
		return false
	}
	return strings.EqualFold(pa, pb)
}

// eval runs a program against a boxed Env with a pooled VM.
func (r *rules) eval(p *vm.Program, env any) (bool, error) {
	m := r.vms.Get().(*vm.VM)
	out, err := m.Run(p, env)
	r.vms.Put(m)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// CheckRule compiles a rule text with the default limits and reports why it is
// rejected, or nil. Hosts use it to validate a rule as a CBO edits it.
func CheckRule(text string) error {
	_, err := newRules(RuleLimits{}).build(text)
	return err
}
