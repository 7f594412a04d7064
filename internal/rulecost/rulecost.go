// Package rulecost bounds, before it ever runs, what an untrusted expr-lang
// expression may cost, and compiles the expressions it admits. Eligibility rules
// (matching) and instrument rules (screening) come from people refkit does not
// trust: a community organization's admin screen, an HSDS feed, a scenario file.
// expr itself bounds only the syntax tree and, at run time, the elements its VM
// allocates; a 51-byte rule of three nested closures over a range of 1,000 still
// runs for minutes. This package is the compile-time half of the defence.
//
// The model is an abstract interpretation over shapes: every value a rule can
// produce gets an upper bound on its size (bytes of a string, entries of a list
// or map, recursively for elements), derived from the environment's declared
// maxima, from literals, and from what each allowed builtin does to its
// arguments. The cost of a node is one step, plus its children, plus the work
// its operation does on values of those sizes; a closure's body is charged once
// per element of the collection it iterates, so nested closures multiply. The
// sum over the tree is the rule's worst-case cost in steps; Limits caps it, and
// caps closure nesting, range lengths, and the elements the VM may allocate (the
// unit of expr's memory budget, so an admitted rule can never trip the run-time
// budget). Anything whose size cannot be bounded is rejected: a builtin not on
// the caller's list, a range whose bounds are not constants, a regular
// expression that is not a constant, $env.
//
// One step is about one VM instruction, measured at 5 to 25 ns on a shared
// 2-core Xeon. String work is charged one step per 16 bytes (case mapping, which
// goes rune by rune outside ASCII, a step per byte), building a list of boxed
// values eight steps per entry, and regular-expression matching one step per
// two (input byte, compiled instruction) pairs.
package rulecost

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Kind is the set of kinds a value may have. A shape can hold several when the
// expression's type is not static (an element of a mixed array literal, say);
// its size bounds then hold for each.
type Kind uint8

// Kinds.
const (
	// Scalar is a number, a boolean or nil.
	Scalar Kind = 1 << iota
	// String is a string; Len bounds its bytes.
	String
	// List is an array; Len bounds its entries and Elem their shape.
	List
	// Map is a map; Len bounds its entries, Key and Elem their keys and values.
	Map
)

// Shape bounds a value: what kinds it may have and how large it may be.
type Shape struct {
	Kind Kind
	// Len is the most bytes (String) or entries (List, Map) the value holds.
	Len int64
	// Elem bounds a list's elements or a map's values; nil for none.
	Elem *Shape
	// Key bounds a map's keys; nil for none.
	Key *Shape
}

// ScalarShape is a number, a boolean or nil.
func ScalarShape() Shape { return Shape{Kind: Scalar} }

// StringShape is a string of at most n bytes.
func StringShape(n int64) Shape { return Shape{Kind: String, Len: n} }

// ListShape is a list of at most n elements shaped elem.
func ListShape(n int64, elem Shape) Shape { return Shape{Kind: List, Len: n, Elem: &elem} }

// MapShape is a map of at most n entries.
func MapShape(n int64, key, elem Shape) Shape {
	return Shape{Kind: Map, Len: n, Key: &key, Elem: &elem}
}

// Func bounds a host function a rule may call, or a function-valued field of the
// environment.
type Func struct {
	// Cost is the steps one call takes, given its arguments' shapes.
	Cost func(args []Shape) int64
	// Result is the shape it returns.
	Result func(args []Shape) Shape
}

// Env describes what a rule can reach.
type Env struct {
	// Vars are the environment's fields by expr name.
	Vars map[string]Shape
	// Funcs are the callable names: host functions and function-valued fields.
	Funcs map[string]Func
	// Builtins are the expr builtins a rule may use. Only builtins this package
	// knows the cost of may be listed (see Known).
	Builtins []string
}

// Limits bound an admitted expression.
type Limits struct {
	// MaxCost is the largest worst-case cost admitted, in steps.
	MaxCost int64
	// MaxDepth is how deeply closures may nest (a closure inside a closure is 2).
	MaxDepth int
	// MaxRange is the longest range literal (a..b) admitted.
	MaxRange int64
	// MaxMemory is the most elements the VM may allocate in one evaluation, in
	// the unit of expr's memory budget (ranges, array and map literals, results
	// of map and filter). Set the VM's budget above it and it never trips.
	MaxMemory int64
	// MaxPattern is the largest compiled regular expression admitted, in
	// instructions; 0 forbids the matches operator.
	MaxPattern int64
}

// Report is the worst case of an admitted expression.
type Report struct {
	// Cost is the most steps one evaluation can take.
	Cost int64
	// Memory is the most elements one evaluation can make the VM allocate.
	Memory int64
	// Depth is the deepest closure nesting.
	Depth int
}

// Known lists the builtins whose cost this package can bound. Builtins left out
// either read the clock or the host's data (now, date, env access), or build
// values whose size depends on run-time data in ways a shape cannot follow
// (repeat, reduce, groupBy, sortBy, toPairs, fromJSON, ...).
var Known = []string{
	"all", "none", "any", "one", "filter", "map", "count", "sum",
	"len", "abs", "ceil", "floor", "round", "int", "float", "string",
	"trim", "upper", "lower", "split", "hasPrefix", "hasSuffix", "indexOf",
	"max", "min", "first", "last", "get", "keys", "values",
}

// Config builds the expr configuration opts describe, exactly as expr.Compile
// does, so that Parse, Check and Program can run expr's pipeline step by step
// with this package's checks in between.
func Config(opts ...expr.Option) *conf.Config {
	c := conf.CreateNew()
	for _, opt := range opts {
		opt(c)
	}
	for name := range c.Disabled {
		delete(c.Builtins, name)
	}
	c.Check()
	return c
}

// Parse parses text. Before anything compiles a regular expression (expr's
// checker compiles constant patterns), it rejects patterns larger than
// lim.MaxPattern instructions.
func Parse(text string, c *conf.Config, lim Limits) (*parser.Tree, error) {
	tree, err := parser.ParseWithConfig(text, c)
	if err != nil {
		return nil, err
	}
	var perr *file.Error
	ast.Find(tree.Node, func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryNode)
		if !ok || b.Operator != "matches" || perr != nil {
			return false
		}
		if s, ok := b.Right.(*ast.StringNode); ok {
			if _, msg := patternSize(s.Value, lim.MaxPattern); msg != "" {
				perr = positioned(tree.Source, b.Right.Location(), msg)
			}
		}
		return false
	})
	if perr != nil {
		return nil, perr
	}
	return tree, nil
}

// Check runs c's patchers over tree and type-checks it.
func Check(tree *parser.Tree, c *conf.Config) error {
	_, err := new(checker.Checker).PatchAndCheck(tree, c)
	return err
}

// Program optimizes and compiles a checked tree. The optimizer rewrites the
// tree in place: analyze it first.
func Program(tree *parser.Tree, c *conf.Config) (*vm.Program, error) {
	if c.Optimize {
		if err := optimizer.Optimize(&tree.Node, c); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, c)
}

// Compile parses, checks, analyzes and compiles text: the whole pipeline for a
// caller with no use for the steps between.
func Compile(text string, c *conf.Config, env *Env, lim Limits) (*vm.Program, Report, error) {
	tree, err := Parse(text, c, lim)
	if err != nil {
		return nil, Report{}, err
	}
	if err := Check(tree, c); err != nil {
		return nil, Report{}, err
	}
	rep, err := Analyze(tree, env, lim)
	if err != nil {
		return nil, Report{}, err
	}
	prog, err := Program(tree, c)
	if err != nil {
		return nil, Report{}, err
	}
	return prog, rep, nil
}

// Analyze bounds a checked tree's cost and rejects it, with a *file.Error
// positioned at the offending node, when a limit is exceeded or a size cannot be
// bounded.
func Analyze(tree *parser.Tree, env *Env, lim Limits) (Report, error) {
	a := &analyzer{env: env, lim: lim, allowed: map[string]bool{}}
	for _, b := range env.Builtins {
		a.allowed[b] = true
	}
	a.finish(a.visit(tree.Node))
	if a.err != nil {
		return Report{}, positioned(tree.Source, a.errAt, a.err.Error())
	}
	return Report{Cost: a.total.cost, Memory: a.total.mem, Depth: a.maxDepth}, nil
}

func positioned(src file.Source, at file.Location, msg string) *file.Error {
	e := &file.Error{Location: at, Message: msg}
	return e.Bind(src)
}

// Thousands formats n with comma separators, as messages quote costs.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n >= inf {
		return "more than " + Thousands(inf-1)
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// inf saturates every bound: sizes and costs never overflow, they stick here.
const inf = int64(1) << 60

func add(a, b int64) int64 {
	if a >= inf-b {
		return inf
	}
	return a + b
}

func mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= inf/b {
		return inf
	}
	return a * b
}

// bytesCost is the steps string work over n bytes is charged.
func bytesCost(n int64) int64 { return add(n, 15) / 16 }

// patternSize estimates the instructions a pattern compiles to, without
// compiling it: counted repetitions multiply. It returns a message when the
// pattern is invalid or larger than max.
func patternSize(pattern string, max int64) (int64, string) {
	if max <= 0 {
		return 0, "matches is not allowed"
	}
	if int64(len(pattern)) > max {
		return 0, fmt.Sprintf("pattern is longer than %s bytes", Thousands(max))
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, "pattern is not a valid regular expression"
	}
	n := regexSize(re)
	if n > max {
		return n, fmt.Sprintf("pattern may compile to %s instructions, above %s", Thousands(n), Thousands(max))
	}
	return n, ""
}

func regexSize(re *syntax.Regexp) int64 {
	var subs int64
	for _, s := range re.Sub {
		subs = add(subs, regexSize(s))
	}
	switch re.Op {
	case syntax.OpLiteral:
		return add(int64(len(re.Rune)), 1)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return add(subs, 2)
	case syntax.OpRepeat:
		times := int64(re.Max)
		if re.Max < 0 {
			times = int64(re.Min) + 1
		}
		return mul(max(times, 1), add(subs, 2))
	case syntax.OpCapture:
		return add(subs, 2)
	}
	return add(subs, int64(len(re.Sub))+1)
}
