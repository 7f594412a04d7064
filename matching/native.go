package matching

import (
	"github.com/expr-lang/expr/ast"
)

// Most eligibility rules are a few comparisons of the person's facts with
// constants ("fpl_percent <= 200 && household_size >= 2", `county == "Cook"`),
// and a request evaluates a dozen or more distinct ones. Running one through
// expr's VM costs a few hundred nanoseconds (a pooled VM, and a field read by
// reflection for every fact). So a rule, and each leaf of its three-valued
// skeleton, that is built only of the shapes below is also compiled to Go
// closures over the Env, which decide it in a few nanoseconds:
//
//	the facts age, household_size, income_annual, fpl_percent, zip, county,
//	state, insurance, urgency, veteran, pregnant and disabled; integer, float,
//	string and boolean literals; unary minus on a number;
//	&&, ||, ! (and, or, not);
//	==, !=, <, <=, >, >= between numbers (compared as integers when both are,
//	else as float64, as expr's runtime does); == and != between two strings or
//	two booleans;
//	has_need("code") and speaks("tag").
//
// Nothing in that subset can fail at run time, allocate or loop beyond the
// request's needs and languages, so the native form decides exactly what the
// program decides; the fuzz target FuzzNativeAgreesWithVM holds the two to it.
// Any other node leaves the rule to the VM. The VM program is still compiled
// and analyzed for every rule: the cost limits, explanations and positions of
// run-time failures do not change.

// native decides a rule, or a part of one, for a person.
type native func(e *Env) bool

// nativeNum is a number-valued part: an integer one when isInt (i set), else a
// float one (f set).
type nativeNum struct {
	isInt bool
	i     func(e *Env) int
	f     func(e *Env) float64
}

// float returns the part as a float64, converted as expr's runtime converts.
func (n nativeNum) float() func(e *Env) float64 {
	if !n.isInt {
		return n.f
	}
	i := n.i
	return func(e *Env) float64 { return float64(i(e)) }
}

// nativeOf compiles a type-checked, patched rule tree (before the optimizer
// rewrites it) to Go, or returns nil when a node is outside the subset.
func nativeOf(n ast.Node) native {
	f, _ := nativeBool(n)
	return f
}

func nativeBool(n ast.Node) (native, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*Env) bool { return v }, true
	case *ast.IdentifierNode:
		switch n.Value {
		case "veteran":
			return func(e *Env) bool { return e.Veteran }, true
		case "pregnant":
			return func(e *Env) bool { return e.Pregnant }, true
		case "disabled":
			return func(e *Env) bool { return e.Disabled }, true
		}
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil, false
		}
		x, ok := nativeBool(n.Node)
		if !ok {
			return nil, false
		}
		return func(e *Env) bool { return !x(e) }, true
	case *ast.BinaryNode:
		return nativeBinary(n)
	case *ast.CallNode:
		return nativeCall(n)
	}
	return nil, false
}

func nativeBinary(n *ast.BinaryNode) (native, bool) {
	switch n.Operator {
	case "&&", "and", "||", "or":
		l, ok1 := nativeBool(n.Left)
		r, ok2 := nativeBool(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		if n.Operator == "&&" || n.Operator == "and" {
			return func(e *Env) bool { return l(e) && r(e) }, true
		}
		return func(e *Env) bool { return l(e) || r(e) }, true
	case "==", "!=":
		eq, ok := nativeEqual(n.Left, n.Right)
		if !ok {
			return nil, false
		}
		if n.Operator == "!=" {
			return func(e *Env) bool { return !eq(e) }, true
		}
		return eq, true
	case "<", "<=", ">", ">=":
		l, ok1 := nativeNumber(n.Left)
		r, ok2 := nativeNumber(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		return nativeOrder(n.Operator, l, r), true
	}
	return nil, false
}

// nativeEqual compares two numbers, two strings or two booleans.
func nativeEqual(left, right ast.Node) (native, bool) {
	if l, ok := nativeNumber(left); ok {
		r, ok := nativeNumber(right)
		if !ok {
			return nil, false
		}
		if l.isInt && r.isInt {
			li, ri := l.i, r.i
			return func(e *Env) bool { return li(e) == ri(e) }, true
		}
		lf, rf := l.float(), r.float()
		return func(e *Env) bool { return lf(e) == rf(e) }, true
	}
	if l, ok := nativeString(left); ok {
		r, ok := nativeString(right)
		if !ok {
			return nil, false
		}
		return func(e *Env) bool { return l(e) == r(e) }, true
	}
	l, ok1 := nativeBool(left)
	r, ok2 := nativeBool(right)
	if !ok1 || !ok2 {
		return nil, false
	}
	return func(e *Env) bool { return l(e) == r(e) }, true
}

// nativeOrder is a numeric comparison: as integers when both sides are, else
// as float64.
func nativeOrder(op string, l, r nativeNum) native {
	if l.isInt && r.isInt {
		li, ri := l.i, r.i
		switch op {
		case "<":
			return func(e *Env) bool { return li(e) < ri(e) }
		case "<=":
			return func(e *Env) bool { return li(e) <= ri(e) }
		case ">":
			return func(e *Env) bool { return li(e) > ri(e) }
		}
		return func(e *Env) bool { return li(e) >= ri(e) }
	}
	lf, rf := l.float(), r.float()
	switch op {
	case "<":
		return func(e *Env) bool { return lf(e) < rf(e) }
	case "<=":
		return func(e *Env) bool { return lf(e) <= rf(e) }
	case ">":
		return func(e *Env) bool { return lf(e) > rf(e) }
	}
	return func(e *Env) bool { return lf(e) >= rf(e) }
}

func nativeNumber(n ast.Node) (nativeNum, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := n.Value
		return nativeNum{isInt: true, i: func(*Env) int { return v }}, true
	case *ast.FloatNode:
		v := n.Value
		return nativeNum{f: func(*Env) float64 { return v }}, true
	case *ast.IdentifierNode:
		switch n.Value {
		case "age":
			return nativeNum{isInt: true, i: func(e *Env) int { return e.Age }}, true
		case "household_size":
			return nativeNum{isInt: true, i: func(e *Env) int { return e.HouseholdSize }}, true
		case "income_annual":
			return nativeNum{f: func(e *Env) float64 { return e.IncomeAnnual }}, true
		case "fpl_percent":
			return nativeNum{f: func(e *Env) float64 { return e.FPLPercent }}, true
		}
	case *ast.UnaryNode:
		if n.Operator != "-" {
			return nativeNum{}, false
		}
		x, ok := nativeNumber(n.Node)
		if !ok {
			return nativeNum{}, false
		}
		if x.isInt {
			xi := x.i
			return nativeNum{isInt: true, i: func(e *Env) int { return -xi(e) }}, true
		}
		xf := x.f
		return nativeNum{f: func(e *Env) float64 { return -xf(e) }}, true
	}
	return nativeNum{}, false
}

func nativeString(n ast.Node) (func(e *Env) string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		v := n.Value
		return func(*Env) string { return v }, true
	case *ast.IdentifierNode:
		switch n.Value {
		case "zip":
			return func(e *Env) string { return e.Zip }, true
		case "county":
			return func(e *Env) string { return e.County }, true
		case "state":
			return func(e *Env) string { return e.State }, true
		case "insurance":
			return func(e *Env) string { return e.Insurance }, true
		case "urgency":
			return func(e *Env) string { return e.Urgency }, true
		}
	}
	return nil, false
}

// nativeCall is has_need or speaks, as the vocabulary patch leaves them:
// has_need(needs, "code"), speaks(languages, "tag").
func nativeCall(n *ast.CallNode) (native, bool) {
	callee, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || len(n.Arguments) != 2 {
		return nil, false
	}
	field, ok1 := n.Arguments[0].(*ast.IdentifierNode)
	arg, ok2 := n.Arguments[1].(*ast.StringNode)
	if !ok1 || !ok2 {
		return nil, false
	}
	v := arg.Value
	switch {
	case callee.Value == "has_need" && field.Value == "needs":
		return func(e *Env) bool {
			for _, n := range e.Needs {
				if n == v {
					return true
				}
			}
			return false
		}, true
	case callee.Value == "speaks" && field.Value == "languages":
		return func(e *Env) bool {
			for _, l := range e.Languages {
				if languageMatch(l, v) {
					return true
				}
			}
			return false
		}, true
	}
	return nil, false
}
