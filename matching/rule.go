package matching

import (
	"errors"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/refkit/refkit/internal/rulecost"
)

// Env is the environment eligibility rules are evaluated against: the rule
// vocabulary. It is passed to expr by value (a pointer environment is several times
// slower) and holds only request data, so a rule can reach nothing else.
//
// A fact the request leaves unknown holds a placeholder here (-1, false, "" or
// an empty list), but no part of a rule that reads an unknown fact is ever run
// against it: see the package doc on three-valued eligibility.
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
	// Zip is the person's ZIP code as given.
	Zip string `expr:"zip"`
	// County is the person's county as given.
	County string `expr:"county"`
	// State is the two-letter USPS code.
	State string `expr:"state"`
	// Languages are the person's BCP 47 tags, lower-cased, in order of preference.
	Languages []string `expr:"languages"`
	// Insurance is a host-defined coverage code, e.g. "medicaid".
	Insurance string `expr:"insurance"`
	// Veteran, Pregnant and Disabled are the person's answers.
	Veteran  bool `expr:"veteran"`
	Pregnant bool `expr:"pregnant"`
	Disabled bool `expr:"disabled"`
	// Needs are the domain codes of the request's needs.
	Needs []string `expr:"needs"`
	// Urgency is the most pressing urgency among the needs: routine, urgent, emergent.
	Urgency string `expr:"urgency"`
	// Attributes are host-defined facts about the person.
	Attributes map[string]string `expr:"attributes"`
}

// Facts a request may leave unknown, as bits of a mask, in the order results
// name them.
const (
	factAge uint16 = 1 << iota
	factHousehold
	factIncome
	factFPL
	factZip
	factCounty
	factState
	factLanguages
	factInsurance
	factVeteran
	factPregnant
	factDisabled
)

var factNames = [...]string{"age", "household_size", "income_annual", "fpl_percent", "zip", "county", "state",
	"languages", "insurance", "veteran", "pregnant", "disabled"}

// factBit is the bit of a vocabulary name that may be unknown, 0 for the others.
func factBit(name string) uint16 {
	for i, n := range factNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// facts is a set of unknowable facts a rule, or a part of it, reads: named
// facts, and attributes["k"] with constant keys, as bits into the rule's
// attribute keys.
type facts struct {
	named uint16
	attrs uint64
}

func (f facts) or(g facts) facts  { return facts{f.named | g.named, f.attrs | g.attrs} }
func (f facts) and(g facts) facts { return facts{f.named & g.named, f.attrs & g.attrs} }
func (f facts) empty() bool       { return f.named == 0 && f.attrs == 0 }

// maxAttributeKeys is how many distinct attributes one rule may name.
const maxAttributeKeys = 64

// RuleLimits bound what an untrusted rule may cost. Zero fields take the
// defaults, which CheckRule uses. Every limit is checked when a rule is
// compiled, so a rule that runs has a stated worst case (see the package doc).
type RuleLimits struct {
	// MaxLength is the longest rule text accepted, in bytes. Default 4096.
	MaxLength int
	// MaxNodes is the largest syntax tree accepted. Default 500.
	MaxNodes uint
	// MaxCost is the largest worst-case cost accepted, in steps (about one VM
	// instruction each). Default 10,000.
	MaxCost int64
	// MaxDepth is how deeply closures may nest: any(languages, {...}) is 1.
	// Default 2.
	MaxDepth int
	// MaxRange is the longest range literal a..b accepted. "x in a..b" over an
	// integer x with literal bounds is a comparison and has no limit. Default 100.
	MaxRange int
	// MaxPattern is the largest regular expression (matches, constant patterns
	// only) accepted, in compiled instructions. Default 200.
	MaxPattern int
	// MemoryBudget bounds the elements expr's VM may allocate while evaluating
	// one rule. A rule that could reach it is rejected when compiled; the VM
	// still enforces it, as a second line of defence. Default 10,000.
	MemoryBudget uint
}

// DefaultRuleLimits are the limits CheckRule and a zero Options.Limits use.
func DefaultRuleLimits() RuleLimits { return RuleLimits{}.withDefaults() }

func (l RuleLimits) withDefaults() RuleLimits {
	if l.MaxLength <= 0 {
		l.MaxLength = 4096
	}
	if l.MaxNodes == 0 {
		l.MaxNodes = 500
	}
	if l.MaxCost <= 0 {
		l.MaxCost = 10_000
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 2
	}
	if l.MaxRange <= 0 {
		l.MaxRange = 100
	}
	if l.MaxPattern <= 0 {
		l.MaxPattern = 200
	}
	if l.MemoryBudget == 0 {
		l.MemoryBudget = 10_000
	}
	return l
}

func (l RuleLimits) cost() rulecost.Limits {
	return rulecost.Limits{
		MaxCost: l.MaxCost, MaxDepth: l.MaxDepth, MaxRange: int64(l.MaxRange),
		// The VM fails when its count reaches the budget.
		MaxMemory: int64(l.MemoryBudget) - 1, MaxPattern: int64(l.MaxPattern),
	}
}

// Check compiles a rule text under these limits (zero fields take the
// defaults) and returns its worst-case cost in steps, or why it is rejected as a
// *RuleError.
func (l RuleLimits) Check(text string) (int64, error) {
	ru, err := newRules(l).build(text)
	if err != nil {
		return 0, err
	}
	return ru.cost, nil
}

// safeBuiltins are the expr builtins rules may use: pure functions over the
// environment whose cost internal/rulecost can bound. Clock, JSON, base64,
// repetition and reduction builtins are left out, so a rule cannot read the time
// (results would not be deterministic) or build values of unbounded size.
var safeBuiltins = []string{
	"all", "none", "any", "one", "filter", "map", "count", "len", "abs", "ceil", "floor", "round",
	"int", "float", "string", "trim", "upper", "lower", "split", "hasPrefix", "hasSuffix", "max", "min",
	"first", "last", "get", "keys", "values", "indexOf",
}

// costEnv is the rule environment as the cost analysis sees it: the most each
// fact can hold, as Request.Validate enforces.
var costEnv = func() *rulecost.Env {
	str := rulecost.StringShape
	num := rulecost.ScalarShape()
	code := str(64) // domain codes
	tag := str(35)  // BCP 47 tags
	// A helper scans a list, comparing each entry with its argument.
	scan := rulecost.Func{
		Cost: func(args []rulecost.Shape) int64 {
			if len(args) < 2 {
				return 1
			}
			entry := int64(1)
			if e := args[0].Elem; e != nil {
				entry += (min(e.Len, args[1].Len)+15)/16 + 1
			}
			return 1 + args[0].Len*entry
		},
		Result: func([]rulecost.Shape) rulecost.Shape { return rulecost.ScalarShape() },
	}
	return &rulecost.Env{
		Vars: map[string]rulecost.Shape{
			"age": num, "household_size": num, "income_annual": num, "fpl_percent": num,
			"zip": str(100), "county": str(100), "state": str(2), "insurance": str(100),
			"languages": rulecost.ListShape(maxLanguages, tag),
			"veteran":   num, "pregnant": num, "disabled": num,
			"needs":      rulecost.ListShape(MaxNeeds, code),
			"urgency":    str(8),
			"attributes": rulecost.MapShape(maxAttributes, str(maxAttributeKey), str(maxAttributeValue)),
		},
		Funcs:    map[string]rulecost.Func{"has_need": scan, "speaks": scan},
		Builtins: safeBuiltins,
	}
}()

// rule is one compiled rule text, shared by every service that uses the same text.
type rule struct {
	text    string
	program *vm.Program
	// native decides the rule in Go when it is built only of simple parts
	// (see native.go); nil otherwise.
	native native
	// cost is the worst-case cost of one evaluation, in steps; memory the most
	// elements it makes the VM allocate, always below the VM's budget.
	cost, memory int64
	// facts are the unknowable facts the rule reads; attrKeys the attributes it
	// names with constant keys, bit i of facts.attrs being attrKeys[i].
	facts    facts
	attrKeys []string
	// skeleton evaluates the rule in three-valued logic when a fact it reads is
	// unknown; nil when the rule cannot be split (then it is unknown whenever
	// one of its facts is).
	skeleton *kleene
	// clauses are the top-level conjuncts of the rule, so an explanation can say
	// which one is false; nil when the rule is not a conjunction of parts that
	// stand alone.
	clauses []clause
	// falseText is the explanation when the rule is false and no clause is.
	falseText string
	// errText is the explanation when the rule fails at run time with no position.
	errText string
}

type clause struct {
	node *kleene
	// falseText is the explanation when this clause is false, built once.
	falseText string
}

// rules compiles rule texts once and shares the programs. Safe for concurrent use.
type rules struct {
	limits RuleLimits
	cost   rulecost.Limits
	mu     sync.Mutex
	byText map[string]*rule
	vms    sync.Pool
	// configs are expr configurations, one per compilation under way: building
	// one costs more than compiling a short rule.
	configs sync.Pool
}

func newRules(limits RuleLimits) *rules {
	r := &rules{limits: limits.withDefaults(), byText: map[string]*rule{}}
	r.cost = r.limits.cost()
	budget := r.limits.MemoryBudget
	r.vms.New = func() any { return &vm.VM{MemoryBudget: budget} }
	r.configs.New = func() any { return r.newConfig() }
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
	if testHookCompile != nil {
		testHookCompile()
	}
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

// testHookCompile, when set by a test, runs before every rule compilation.
var testHookCompile func()

func (r *rules) build(text string) (*rule, error) {
	if len(text) > r.limits.MaxLength {
		return nil, &RuleError{Message: "rule is longer than the limit"}
	}
	if strings.TrimSpace(text) == "" {
		return nil, &RuleError{Message: "rule is empty"}
	}
	if !utf8.ValidString(text) {
		return nil, &RuleError{Message: "rule must be valid text without control characters"}
	}
	for _, c := range text {
		if c == utf8.RuneError || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return nil, &RuleError{Message: "rule must be valid text without control characters"}
		}
	}
	cfg := r.configs.Get().(*conf.Config)
	defer r.configs.Put(cfg)
	tree, err := rulecost.Parse(text, cfg, r.cost)
	if err != nil {
		return nil, ruleError(err)
	}
	if err := rulecost.Check(tree, cfg); err != nil {
		return nil, ruleError(err)
	}
	rep, err := rulecost.Analyze(tree, costEnv, r.cost)
	if err != nil {
		return nil, ruleError(err)
	}
	ru := &rule{text: text, cost: rep.Cost, memory: rep.Memory, falseText: "rule is false: " + text,
		errText: "eligibility rule failed at run time"}
	ru.facts, err = ru.factsOf(tree.Node, true)
	if err != nil {
		return nil, err
	}
	// The optimizer rewrites the tree: facts and the native form are read first.
	ru.native = nativeOf(tree.Node)
	if ru.program, err = rulecost.Program(tree, cfg); err != nil {
		return nil, ruleError(err)
	}
	if err := r.decompose(ru); err != nil {
		return nil, err
	}
	return ru, nil
}

// newConfig builds the expr configuration for rules. The configuration's type
// cache is not safe for concurrent use, so each compilation under way takes
// its own from the pool.
func (r *rules) newConfig() *conf.Config {
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
		expr.Patch(vocabulary{}),
	)
	return rulecost.Config(opts...)
}

func ruleError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if msg == "" {
			msg = "does not compile"
		}
		if fe.Line == 0 && fe.Column == 0 && fe.From == 0 {
			return &RuleError{Message: msg}
		}
		return &RuleError{Line: fe.Line, Column: fe.Column, Message: msg}
	}
	return &RuleError{Message: firstLine(err.Error())}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// factsOf returns the unknowable facts n reads. With learn, attribute keys
// not yet known to the rule are added to it; otherwise they are ignored (a
// part of the rule never names a key the whole does not).
func (ru *rule) factsOf(n ast.Node, learn bool) (facts, error) {
	var out facts
	var err error
	ast.Find(n, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.IdentifierNode:
			out.named |= factBit(x.Value)
		case *ast.CallNode:
			// speaks("es") before the patcher rewrites it to speaks(languages, "es").
			if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == "speaks" && len(x.Arguments) == 1 {
				out.named |= factLanguages
			}
		case *ast.MemberNode:
			if key, ok := attributeKey(x.Node, x.Property); ok {
				bit, e := ru.attrBit(key, learn)
				out.attrs |= bit
				if e != nil {
					err = e
				}
			}
		case *ast.BuiltinNode:
			if x.Name == "get" && len(x.Arguments) == 2 {
				if key, ok := attributeKey(x.Arguments[0], x.Arguments[1]); ok {
					bit, e := ru.attrBit(key, learn)
					out.attrs |= bit
					if e != nil {
						err = e
					}
				}
			}
		}
		return false
	})
	return out, err
}

// attributeKey recognizes attributes["k"], attributes.k and get(attributes, "k").
func attributeKey(base, key ast.Node) (string, bool) {
	id, ok := base.(*ast.IdentifierNode)
	if !ok || id.Value != "attributes" {
		return "", false
	}
	s, ok := key.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func (ru *rule) attrBit(key string, learn bool) (uint64, error) {
	for i, k := range ru.attrKeys {
		if k == key {
			return 1 << i, nil
		}
	}
	if !learn {
		return 0, nil
	}
	if len(ru.attrKeys) == maxAttributeKeys {
		return 0, &RuleError{Message: "rule names more than 64 attributes"}
	}
	ru.attrKeys = append(ru.attrKeys, key)
	return 1 << (len(ru.attrKeys) - 1), nil
}

// vocabulary rewrites the one-argument helpers has_need(code) and speaks(tag)
// into their two-argument forms over the environment, so helpers need no access
// to the environment themselves.
type vocabulary struct{}

func (vocabulary) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
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

// run evaluates a program against a boxed Env with a pooled VM. A failure is
// returned as expr reports it, for its position only: its message may quote the
// person's values and must never leave this package.
func (r *rules) run(p *vm.Program, env any) (bool, error) {
	m := r.vms.Get().(*vm.VM)
	out, err := m.Run(p, env)
	r.vms.Put(m)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, errNotBool
	}
	return b, nil
}

var errNotBool = errors.New("rule did not return a boolean")

// CheckRule compiles a rule text with the default limits and reports why it is
// rejected, or nil. Hosts use it to validate a rule as a CBO edits it; the HSDS
// importer and the simulation's scenario loader use it on every rule they read.
func CheckRule(text string) error {
	_, err := newRules(RuleLimits{}).build(text)
	return err
}

// parseRule parses text for decomposition, without type checking, with a
// configuration the caller puts back in the pool.
func (r *rules) parseRule(text string) (*parser.Tree, *conf.Config, error) {
	cfg := r.configs.Get().(*conf.Config)
	tree, err := rulecost.Parse(text, cfg, r.cost)
	if err != nil {
		r.configs.Put(cfg)
	}
	return tree, cfg, err
}
