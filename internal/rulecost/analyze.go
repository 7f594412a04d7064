package rulecost

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// loopStep is what one iteration of a closure builtin costs beyond its body:
// fetching the element (boxed into an interface: often an allocation),
// testing the result, advancing.
const loopStep = 8

// boxStep is what building a list of boxed values costs per entry: an
// allocation each, measured at about eight steps.
const boxStep = 8

// textLen bounds the bytes of fmt's %v rendering of a scalar (a float64 takes at
// most 24, an int64 20).
const textLen = 32

// result is what the analysis knows of a node: the value's shape, the steps one
// evaluation of the node takes, and the elements it makes the VM allocate.
type result struct {
	shape Shape
	cost  int64
	mem   int64
}

type binding struct {
	name  string
	shape Shape
}

// closure is the scope of a closure body: the shape of # and whether #index is
// defined.
type closure struct {
	elem  Shape
	index bool
}

type analyzer struct {
	env      *Env
	lim      Limits
	allowed  map[string]bool
	vars     []binding
	closures []closure
	maxDepth int

	// err is the first hard rejection, at errAt.
	err   error
	errAt file.Location
	// costAt and memAt locate the smallest subtree over the cost and memory
	// limits, reported if the whole tree is over them.
	costAt, memAt *file.Location
	total         result
}

func (a *analyzer) fail(n ast.Node, format string, args ...any) result {
	if a.err == nil {
		a.err = fmt.Errorf(format, args...)
		a.errAt = n.Location()
	}
	return result{}
}

func (a *analyzer) visit(n ast.Node) result {
	if a.err != nil {
		return result{}
	}
	r := a.node(n)
	if a.err != nil {
		return result{}
	}
	if r.cost > a.lim.MaxCost && a.costAt == nil {
		loc := n.Location()
		a.costAt = &loc
	}
	if r.mem > a.lim.MaxMemory && a.memAt == nil {
		loc := n.Location()
		a.memAt = &loc
	}
	return r
}

// finish turns a whole tree's result into the first limit it exceeds.
func (a *analyzer) finish(r result) {
	a.total = r
	if a.err != nil {
		return
	}
	switch {
	case r.cost > a.lim.MaxCost:
		a.err = fmt.Errorf("worst-case cost %s is above %s", Thousands(r.cost), Thousands(a.lim.MaxCost))
		a.errAt = *a.costAt
	case r.mem > a.lim.MaxMemory:
		a.err = fmt.Errorf("may allocate %s elements, above %s", Thousands(r.mem), Thousands(a.lim.MaxMemory))
		a.errAt = *a.memAt
	}
}

func scalar(cost, mem int64) result { return result{shape: ScalarShape(), cost: cost, mem: mem} }

// sum adds up the cost and memory of rs.
func sum(rs ...result) (cost, mem int64) {
	for _, r := range rs {
		cost, mem = add(cost, r.cost), add(mem, r.mem)
	}
	return cost, mem
}

func (a *analyzer) node(n ast.Node) result {
	switch n := n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return scalar(1, 0)
	case *ast.StringNode:
		return result{shape: StringShape(int64(len(n.Value))), cost: 1}
	case *ast.BytesNode:
		return result{shape: StringShape(int64(len(n.Value))), cost: 1}
	case *ast.IdentifierNode:
		return a.identifier(n)
	case *ast.PointerNode:
		return a.pointer(n)
	case *ast.UnaryNode:
		x := a.visit(n.Node)
		return scalar(add(x.cost, 1), x.mem)
	case *ast.BinaryNode:
		return a.binary(n)
	case *ast.ChainNode:
		return a.visit(n.Node)
	case *ast.MemberNode:
		return a.member(n)
	case *ast.SliceNode:
		base := a.visit(n.Node)
		cost, mem := sum(base)
		for _, x := range []ast.Node{n.From, n.To} {
			if x != nil {
				r := a.visit(x)
				cost, mem = add(cost, r.cost), add(mem, r.mem)
			}
		}
		// Slicing shares the backing array or string: no copy.
		return result{shape: base.shape, cost: add(cost, 1), mem: mem}
	case *ast.CallNode:
		return a.call(n)
	case *ast.BuiltinNode:
		return a.builtin(n)
	case *ast.ConditionalNode:
		// Both branches are charged: three-valued evaluation may run both.
		c, t, e := a.visit(n.Cond), a.visit(n.Exp1), a.visit(n.Exp2)
		cost, mem := sum(c, t, e)
		return result{shape: join(t.shape, e.shape), cost: add(cost, 1), mem: mem}
	case *ast.VariableDeclaratorNode:
		v := a.visit(n.Value)
		a.vars = append(a.vars, binding{n.Name, v.shape})
		e := a.visit(n.Expr)
		a.vars = a.vars[:len(a.vars)-1]
		cost, mem := sum(v, e)
		return result{shape: e.shape, cost: add(cost, 1), mem: mem}
	case *ast.SequenceNode:
		var last result
		var cost, mem int64
		for _, x := range n.Nodes {
			last = a.visit(x)
			cost, mem = add(cost, last.cost), add(mem, last.mem)
		}
		return result{shape: last.shape, cost: add(cost, 1), mem: mem}
	case *ast.ArrayNode:
		var elem Shape
		var cost, mem int64
		for i, x := range n.Nodes {
			r := a.visit(x)
			cost, mem = add(cost, r.cost), add(mem, r.mem)
			if i == 0 {
				elem = r.shape
			} else {
				elem = join(elem, r.shape)
			}
		}
		size := int64(len(n.Nodes))
		return result{shape: ListShape(size, elem), cost: add(add(cost, size), 1), mem: add(mem, size)}
	case *ast.MapNode:
		var key, elem Shape
		var cost, mem int64
		for i, p := range n.Pairs {
			pair, ok := p.(*ast.PairNode)
			if !ok {
				return a.fail(p, "cannot bound the size of this map entry")
			}
			k, v := a.visit(pair.Key), a.visit(pair.Value)
			cost, mem = add(cost, add(add(k.cost, v.cost), work(k.shape))), add(mem, add(k.mem, v.mem))
			if i == 0 {
				key, elem = k.shape, v.shape
			} else {
				key, elem = join(key, k.shape), join(elem, v.shape)
			}
		}
		size := int64(len(n.Pairs))
		return result{shape: MapShape(size, key, elem), cost: add(add(cost, size), 1), mem: add(mem, size)}
	case *ast.PredicateNode:
		return a.fail(n, "a closure may only be an argument of a collection builtin")
	}
	return a.fail(n, "cannot bound the cost of this expression")
}

func (a *analyzer) identifier(n *ast.IdentifierNode) result {
	for i := len(a.vars) - 1; i >= 0; i-- {
		if a.vars[i].name == n.Value {
			return result{shape: a.vars[i].shape, cost: 1}
		}
	}
	if n.Value == "$env" {
		return a.fail(n, "$env is not allowed")
	}
	if s, ok := a.env.Vars[n.Value]; ok {
		return result{shape: s, cost: 1}
	}
	if _, ok := a.env.Funcs[n.Value]; ok {
		return scalar(1, 0)
	}
	return a.fail(n, "cannot bound the size of %s", n.Value)
}

func (a *analyzer) pointer(n *ast.PointerNode) result {
	if len(a.closures) == 0 {
		return a.fail(n, "# is only defined inside a closure")
	}
	c := a.closures[len(a.closures)-1]
	switch {
	case n.Name == "":
		return result{shape: c.elem, cost: 1}
	case n.Name == "index" && c.index:
		return scalar(1, 0)
	}
	return a.fail(n, "#%s is not allowed", n.Name)
}

func (a *analyzer) member(n *ast.MemberNode) result {
	base := a.visit(n.Node)
	prop := a.visit(n.Property)
	cost, mem := sum(base, prop)
	cost = add(cost, 1)
	var out Shape
	b := base.shape
	if b.Kind&Map != 0 {
		out = joinPtr(out, b.Elem)
		cost = add(cost, work(prop.shape)) // hashing the key
	}
	if b.Kind&List != 0 {
		out = joinPtr(out, b.Elem)
	}
	if b.Kind&String != 0 {
		out = join(out, ScalarShape()) // a byte
	}
	return result{shape: out, cost: cost, mem: mem}
}

func (a *analyzer) call(n *ast.CallNode) result {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return a.fail(n, "only the environment's functions may be called")
	}
	f, ok := a.env.Funcs[id.Value]
	if !ok {
		return a.fail(n, "cannot bound the cost of calling %s", id.Value)
	}
	var cost, mem int64
	shapes := make([]Shape, len(n.Arguments))
	for i, x := range n.Arguments {
		r := a.visit(x)
		cost, mem = add(cost, r.cost), add(mem, r.mem)
		shapes[i] = r.shape
	}
	if a.err != nil {
		return result{}
	}
	return result{shape: f.Result(shapes), cost: add(add(cost, 1), f.Cost(shapes)), mem: mem}
}

// constInt reports the value of an integer literal, signed or not.
func constInt(n ast.Node) (int64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return int64(n.Value), true
	case *ast.UnaryNode:
		v, ok := constInt(n.Node)
		switch {
		case !ok:
			return 0, false
		case n.Operator == "-":
			return -v, true
		case n.Operator == "+":
			return v, true
		}
	}
	return 0, false
}

func (a *analyzer) binary(n *ast.BinaryNode) result {
	if n.Operator == "in" && isIntRange(n) {
		// x in a..b with an integer x and literal bounds: expr's optimizer
		// rewrites it to a >= and a <=, so no range is built whatever its length.
		x := a.visit(n.Left)
		return scalar(add(x.cost, 4), x.mem)
	}
	if n.Operator == ".." {
		return a.rangeOf(n)
	}
	if n.Operator == "matches" {
		return a.matches(n)
	}
	l, r := a.visit(n.Left), a.visit(n.Right)
	cost, mem := sum(l, r)
	cost = add(cost, 1)
	switch n.Operator {
	case "&&", "and", "||", "or", "-", "*", "/", "%", "**", "^":
		return scalar(cost, mem)
	case "==", "!=", "<", ">", "<=", ">=":
		// Equal values have equal lengths, and comparison stops at the shorter:
		// the smaller operand bounds the work.
		return scalar(add(cost, min(work(l.shape), work(r.shape))), mem)
	case "contains", "startsWith", "endsWith":
		return scalar(add(cost, add(work(l.shape), work(r.shape))), mem)
	case "in":
		rs := r.shape
		if rs.Kind&List != 0 && rs.Elem != nil {
			cost = add(cost, mul(rs.Len, add(1, min(work(l.shape), work(*rs.Elem)))))
		}
		if rs.Kind&(Map|String) != 0 {
			cost = add(cost, add(work(l.shape), work(rs)))
		}
		return scalar(cost, mem)
	case "+":
		out := Shape{Kind: l.shape.Kind | r.shape.Kind}
		if out.Kind&^Scalar == 0 {
			return scalar(cost, mem)
		}
		out.Len = add(l.shape.Len, r.shape.Len)
		out.Elem = joinPtrs(l.shape.Elem, r.shape.Elem)
		out.Key = joinPtrs(l.shape.Key, r.shape.Key)
		return result{shape: out, cost: add(cost, work(out)), mem: mem}
	case "??":
		return result{shape: join(l.shape, r.shape), cost: cost, mem: mem}
	}
	return a.fail(n, "operator %s is not allowed", n.Operator)
}

func isIntRange(n *ast.BinaryNode) bool {
	rg, ok := n.Right.(*ast.BinaryNode)
	if !ok || rg.Operator != ".." {
		return false
	}
	_, lo := rg.Left.(*ast.IntegerNode)
	_, hi := rg.Right.(*ast.IntegerNode)
	t := n.Left.Type()
	return lo && hi && t != nil && t.Kind() == reflect.Int
}

func (a *analyzer) rangeOf(n *ast.BinaryNode) result {
	lo, okLo := constInt(n.Left)
	hi, okHi := constInt(n.Right)
	if !okLo || !okHi {
		return a.fail(n, "cannot bound the size of a range whose bounds are not integer literals")
	}
	// The VM sizes a range as hi - lo + 1 in wrapping int arithmetic, so a
	// reversed range with extreme bounds can wrap to a large positive size:
	// what counts is the VM's size, not the mathematical one. The difference in
	// unsigned arithmetic is exact even where hi - lo overflows.
	size := max(hi-lo+1, 0)
	if (hi >= lo && uint64(hi)-uint64(lo) >= uint64(a.lim.MaxRange)) || size > a.lim.MaxRange {
		return a.fail(n, "range %d..%d is longer than %s", lo, hi, Thousands(a.lim.MaxRange))
	}
	return result{shape: ListShape(size, ScalarShape()), cost: add(size, 3), mem: size}
}

func (a *analyzer) matches(n *ast.BinaryNode) result {
	if a.lim.MaxPattern <= 0 {
		return a.fail(n, "matches is not allowed")
	}
	s, ok := n.Right.(*ast.StringNode)
	if !ok {
		return a.fail(n, "matches needs a constant pattern")
	}
	insts, msg := patternSize(s.Value, a.lim.MaxPattern)
	if msg != "" {
		return a.fail(n.Right, "%s", msg)
	}
	l := a.visit(n.Left)
	// Go's engines run in time linear in the input times the program: a step
	// per two (byte, instruction) pairs, as measured on the backtracker.
	return scalar(add(add(l.cost, 2), mul(add(l.shape.Len, 1), insts)/2), l.mem)
}

// closureBuiltins iterate a collection and run a closure per element.
var closureBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
}

func (a *analyzer) builtin(n *ast.BuiltinNode) result {
	if !a.allowed[n.Name] {
		return a.fail(n, "builtin %s is not allowed", n.Name)
	}
	if closureBuiltins[n.Name] {
		return a.iterate(n)
	}
	args := make([]result, len(n.Arguments))
	for i, x := range n.Arguments {
		args[i] = a.visit(x)
	}
	if a.err != nil {
		return result{}
	}
	cost, mem := sum(args...)
	cost = add(cost, 1)
	arg := func(i int) Shape {
		if i < len(args) {
			return args[i].shape
		}
		return Shape{}
	}
	s0 := arg(0)
	switch n.Name {
	case "len":
		if s0.Kind&String != 0 {
			cost = add(cost, bytesCost(s0.Len)) // counts runes
		}
		return scalar(cost, mem)
	case "abs", "ceil", "floor", "round":
		return scalar(cost, mem)
	case "int", "float":
		return scalar(add(cost, work(s0)), mem)
	case "max", "min":
		for _, r := range args {
			cost = add(cost, work(r.shape)) // nested arrays are flattened
		}
		return scalar(cost, mem)
	case "string":
		size := rendered(s0)
		return result{shape: StringShape(size), cost: add(add(cost, work(s0)), bytesCost(size)), mem: mem}
	case "trim":
		cost = add(cost, work(s0))
		if len(args) > 1 {
			// A cutset is searched for every byte trimmed.
			cost = add(cost, mul(add(s0.Len, 1), work(arg(1))))
		}
		return result{shape: StringShape(s0.Len), cost: cost, mem: mem}
	case "upper", "lower":
		// Case mapping can lengthen a string (an invalid byte becomes U+FFFD),
		// and text other than ASCII is mapped rune by rune through Unicode's
		// tables: a step per byte.
		size := mul(s0.Len, 3)
		return result{shape: StringShape(size), cost: add(cost, add(s0.Len, bytesCost(size))), mem: mem}
	case "split":
		parts := add(s0.Len, 1)
		cost = add(cost, add(add(work(s0), work(arg(1))), mul(parts, boxStep)))
		return result{shape: ListShape(parts, StringShape(s0.Len)), cost: cost, mem: mem}
	case "hasPrefix", "hasSuffix":
		return scalar(add(cost, min(work(s0), work(arg(1)))), mem)
	case "indexOf":
		return scalar(add(cost, add(work(s0), work(arg(1)))), mem)
	case "first", "last":
		var out Shape
		if s0.Kind&List != 0 {
			out = joinPtr(out, s0.Elem)
		}
		return result{shape: out, cost: cost, mem: mem}
	case "get":
		var out Shape
		if s0.Kind&Map != 0 {
			out = joinPtr(out, s0.Elem)
			cost = add(cost, work(arg(1)))
		}
		if s0.Kind&List != 0 {
			out = joinPtr(out, s0.Elem)
		}
		return result{shape: out, cost: cost, mem: mem}
	case "keys", "values":
		if s0.Kind&Map == 0 {
			return result{cost: cost, mem: mem}
		}
		part := s0.Key
		if n.Name == "values" {
			part = s0.Elem
		}
		var elem Shape
		elem = joinPtr(elem, part)
		// Every entry is boxed into an interface: an allocation each.
		return result{shape: ListShape(s0.Len, elem), cost: add(cost, mul(s0.Len, boxStep)), mem: mem}
	}
	return a.fail(n, "builtin %s is not allowed", n.Name)
}

// iterate bounds a builtin that walks a collection, with or without a closure.
func (a *analyzer) iterate(n *ast.BuiltinNode) result {
	if len(n.Arguments) == 0 {
		return a.fail(n, "builtin %s needs a collection", n.Name)
	}
	coll := a.visit(n.Arguments[0])
	if a.err != nil {
		return result{}
	}
	size := coll.shape.Len
	var elem Shape
	if coll.shape.Kind&List != 0 {
		elem = joinPtr(elem, coll.shape.Elem)
	}
	if len(n.Arguments) == 1 { // count(list), sum(list)
		return scalar(add(add(coll.cost, mul(size, add(work(elem), 1))), 1), coll.mem)
	}
	pred, ok := n.Arguments[1].(*ast.PredicateNode)
	if !ok || len(n.Arguments) > 2 {
		return a.fail(n, "builtin %s takes a collection and one closure", n.Name)
	}
	if len(a.closures)+1 > a.lim.MaxDepth {
		return a.fail(pred, "closures nest deeper than %d", a.lim.MaxDepth)
	}
	a.closures = append(a.closures, closure{elem: elem, index: n.Name == "map"})
	a.maxDepth = max(a.maxDepth, len(a.closures))
	body := a.visit(pred.Node)
	a.closures = a.closures[:len(a.closures)-1]
	if a.err != nil {
		return result{}
	}
	cost := add(add(coll.cost, 2), mul(size, add(body.cost, loopStep)))
	mem := add(coll.mem, mul(size, body.mem))
	switch n.Name {
	case "filter":
		return result{shape: ListShape(size, elem), cost: cost, mem: add(mem, size)}
	case "map":
		return result{shape: ListShape(size, body.shape), cost: cost, mem: add(mem, size)}
	}
	return scalar(cost, mem)
}

// work bounds the steps to read, compare, hash or copy a whole value.
func work(s Shape) int64 {
	w := int64(1)
	if s.Kind&String != 0 {
		w = add(w, bytesCost(s.Len))
	}
	if s.Kind&List != 0 && s.Elem != nil {
		w = add(w, mul(s.Len, work(*s.Elem)))
	}
	if s.Kind&Map != 0 {
		var entry int64
		if s.Key != nil {
			entry = add(entry, work(*s.Key))
		}
		if s.Elem != nil {
			entry = add(entry, work(*s.Elem))
		}
		w = add(w, mul(s.Len, entry))
	}
	return w
}

// rendered bounds the bytes of fmt's %v rendering of a value.
func rendered(s Shape) int64 {
	var n int64
	if s.Kind&Scalar != 0 || s.Kind == 0 {
		n = textLen
	}
	if s.Kind&String != 0 {
		n = max(n, s.Len)
	}
	if s.Kind&List != 0 && s.Elem != nil {
		n = max(n, add(2, mul(s.Len, add(rendered(*s.Elem), 1))))
	}
	if s.Kind&Map != 0 {
		var entry int64 = 2
		if s.Key != nil {
			entry = add(entry, rendered(*s.Key))
		}
		if s.Elem != nil {
			entry = add(entry, rendered(*s.Elem))
		}
		n = max(n, add(5, mul(s.Len, entry)))
	}
	return n
}

// join is the least shape bounding both a and b.
func join(a, b Shape) Shape {
	out := Shape{Kind: a.Kind | b.Kind, Len: max(a.Len, b.Len)}
	out.Elem = joinPtrs(a.Elem, b.Elem)
	out.Key = joinPtrs(a.Key, b.Key)
	return out
}

func joinPtr(a Shape, b *Shape) Shape {
	if b == nil {
		return a
	}
	if a.Kind == 0 {
		return *b
	}
	return join(a, *b)
}

func joinPtrs(a, b *Shape) *Shape {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	j := join(*a, *b)
	return &j
}
