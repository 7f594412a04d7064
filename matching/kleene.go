package matching

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/refkit/refkit/internal/rulecost"
)

// This file is three-valued eligibility. A rule whose facts are all known runs
// as one program. When a fact it reads is unknown, the rule is evaluated through
// its skeleton instead: the &&, ||, ! and ?: nodes above its leaves, each leaf
// compiled as its own program with its own facts. A leaf that reads an unknown
// fact is unknown and is not run; the others run; the operators combine the
// results in Kleene's logic, so "true || unknown" is true and "false && unknown"
// is false. Rules split only through those four operators, so a let binding or
// a closure stays inside its leaf, which is then unknown whenever any fact it
// reads is; so does a part that would not compile on its own.

// truth is a three-valued result, or a run-time failure.
type truth uint8

const (
	isFalse truth = iota
	isTrue
	isUnknown
	isError
)

func truthOf(b bool) truth {
	if b {
		return isTrue
	}
	return isFalse
}

// kleene ops.
const (
	opLeaf uint8 = iota
	opAnd
	opOr
	opNot
	opCond
)

// kleene is a node of a rule's skeleton.
type kleene struct {
	op   uint8
	kids []*kleene // and, or: the operands; not: one; cond: condition, then, else
	leaf *vm.Program
	// native decides the leaf in Go, when it is simple (see native.go).
	native native
	// facts are the unknowable facts the node reads.
	facts facts
}

// decompose builds ru's clauses and skeleton from one fresh parse of its text:
// the leaves are disjoint subtrees of it, each checked and compiled on its own.
func (r *rules) decompose(ru *rule) error {
	tree, cfg, err := r.parseRule(ru.text)
	if err != nil {
		return ruleError(err)
	}
	defer r.configs.Put(cfg)
	d := &decomposer{r: r, ru: ru, tree: tree, cfg: cfg}
	var parts []part
	parts = conjuncts(tree.Node, nil, parts)
	if len(parts) > 1 {
		kids := make([]*kleene, 0, len(parts))
		var all facts
		for _, p := range parts {
			k := d.split(p.node, p.path)
			if k == nil {
				kids = nil
				break
			}
			kids = append(kids, k)
			all = all.or(k.facts)
		}
		if kids != nil {
			for i, k := range kids {
				ru.clauses = append(ru.clauses, clause{node: k, falseText: "clause is false: " + parts[i].text})
			}
			ru.skeleton = &kleene{op: opAnd, kids: kids, facts: all}
			return nil
		}
	}
	if ru.facts.empty() {
		return nil // never unknown: the program alone decides
	}
	if k := d.split(tree.Node, nil); k != nil && k.op != opLeaf {
		ru.skeleton = k
	}
	return nil
}

// decomposer splits one parse of a rule into its skeleton.
type decomposer struct {
	r    *rules
	ru   *rule
	tree *parser.Tree
	cfg  *conf.Config
	// leaves counts the programs compiled, bounded by maxLeaves.
	leaves int
}

// maxLeaves bounds the parts a rule is split into, and so the programs compiled
// for it: past it, the remaining parts are evaluated whole.
const maxLeaves = 64

// part is a node of a parsed rule with its path from the root, and its text as
// printed before anything compiles it.
type part struct {
	node ast.Node
	path []uint8
	text string
}

// conjuncts splits a top-level chain of && into its operands.
func conjuncts(n ast.Node, path []uint8, out []part) []part {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		out = conjuncts(b.Left, appendPath(path, 0), out)
		return conjuncts(b.Right, appendPath(path, 1), out)
	}
	return append(out, part{n, path, n.String()})
}

func appendPath(path []uint8, i uint8) []uint8 {
	return append(path[:len(path):len(path)], i)
}

// boolKids returns the operator and operands of a node the skeleton splits.
func boolKids(n ast.Node) (uint8, []ast.Node) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			return opAnd, []ast.Node{n.Left, n.Right}
		case "||", "or":
			return opOr, []ast.Node{n.Left, n.Right}
		}
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			return opNot, []ast.Node{n.Node}
		}
	case *ast.ConditionalNode:
		return opCond, []ast.Node{n.Cond, n.Exp1, n.Exp2}
	}
	return opLeaf, nil
}

// child follows one step of a path.
func child(n ast.Node, i uint8) ast.Node {
	_, kids := boolKids(n)
	if int(i) >= len(kids) {
		return nil
	}
	return kids[i]
}

// split builds the skeleton of the part n of the rule, at path. A part that
// reads no unknowable fact is one leaf: it is always evaluated as a whole. It
// returns nil when the part cannot stand alone.
func (d *decomposer) split(n ast.Node, path []uint8) *kleene {
	f, err := d.ru.factsOf(n, false)
	if err != nil {
		return nil
	}
	if op, kids := boolKids(n); op != opLeaf && !f.empty() && d.leaves+len(kids) <= maxLeaves {
		k := &kleene{op: op, kids: make([]*kleene, len(kids)), facts: f}
		for i, c := range kids {
			if k.kids[i] = d.split(c, appendPath(path, uint8(i))); k.kids[i] == nil {
				// Compiling a kid may have rewritten the subtree: compile the
				// whole part from a fresh parse.
				return d.r.leafAt(d.ru, path)
			}
		}
		return k
	}
	d.leaves++
	return d.r.leaf(d.ru, &parser.Tree{Node: n, Source: d.tree.Source}, d.cfg)
}

// leafAt compiles the part of ru at path from a fresh parse of its text.
func (r *rules) leafAt(ru *rule, path []uint8) *kleene {
	tree, cfg, err := r.parseRule(ru.text)
	if err != nil {
		return nil
	}
	defer r.configs.Put(cfg)
	n := tree.Node
	for _, i := range path {
		if n = child(n, i); n == nil {
			return nil
		}
	}
	return r.leaf(ru, &parser.Tree{Node: n, Source: tree.Source}, cfg)
}

// leaf compiles a part of ru as a program of its own. The part keeps the
// rule's positions, and so the position of a run-time failure is the rule's
// own.
func (r *rules) leaf(ru *rule, sub *parser.Tree, cfg *conf.Config) *kleene {
	if rulecost.Check(sub, cfg) != nil {
		return nil // reads a variable bound outside it
	}
	f, err := ru.factsOf(sub.Node, false)
	if err != nil {
		return nil
	}
	fast := nativeOf(sub.Node) // before the optimizer rewrites the part
	prog, err := rulecost.Program(sub, cfg)
	if err != nil {
		return nil
	}
	return &kleene{op: opLeaf, leaf: prog, native: fast, facts: f}
}

// judge evaluates a skeleton in three-valued logic, left to right with the
// short cuts the VM takes, so that with every fact known it agrees with the
// rule's program, failures included. env is e, boxed for the VM. unknown are
// the facts the request leaves unknown; missing, for an unknown result, are
// those the result depends on.
func (r *rules) judge(k *kleene, env any, e *Env, unknown facts) (t truth, missing facts, err error) {
	switch k.op {
	case opLeaf:
		if m := k.facts.and(unknown); !m.empty() {
			return isUnknown, m, nil
		}
		if k.native != nil {
			return truthOf(k.native(e)), facts{}, nil
		}
		ok, err := r.run(k.leaf, env)
		if err != nil {
			return isError, facts{}, err
		}
		return truthOf(ok), facts{}, nil
	case opAnd, opOr:
		decisive := isFalse
		if k.op == opOr {
			decisive = isTrue
		}
		seen := false
		for _, kid := range k.kids {
			t, m, err := r.judge(kid, env, e, unknown)
			switch t {
			case decisive, isError:
				return t, facts{}, err
			case isUnknown:
				seen, missing = true, missing.or(m)
			}
		}
		if seen {
			return isUnknown, missing, nil
		}
		if decisive == isFalse {
			return isTrue, facts{}, nil
		}
		return isFalse, facts{}, nil
	case opNot:
		t, m, err := r.judge(k.kids[0], env, e, unknown)
		switch t {
		case isTrue:
			return isFalse, m, err
		case isFalse:
			return isTrue, m, err
		}
		return t, m, err
	}
	// opCond
	c, mc, err := r.judge(k.kids[0], env, e, unknown)
	switch c {
	case isTrue:
		return r.judge(k.kids[1], env, e, unknown)
	case isFalse:
		return r.judge(k.kids[2], env, e, unknown)
	case isError:
		return c, facts{}, err
	}
	a, ma, err := r.judge(k.kids[1], env, e, unknown)
	if a == isError {
		return a, facts{}, err
	}
	b, mb, err := r.judge(k.kids[2], env, e, unknown)
	if b == isError {
		return b, facts{}, err
	}
	if a == b && a != isUnknown {
		return a, facts{}, nil
	}
	return isUnknown, mc.or(ma).or(mb), nil
}

// missingAttributes are the rule's attribute keys the person does not have.
func (ru *rule) missingAttributes(attrs map[string]string) uint64 {
	var m uint64
	for i, k := range ru.attrKeys {
		if _, ok := attrs[k]; !ok {
			m |= 1 << i
		}
	}
	return m
}

// factNamesOf names a set of the rule's facts, in vocabulary order, attributes
// last as the rule writes them.
func (ru *rule) factNamesOf(f facts) []string {
	out := make([]string, 0, bits.OnesCount16(f.named)+bits.OnesCount64(f.attrs))
	for i, n := range factNames {
		if f.named&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	for i, k := range ru.attrKeys {
		if f.attrs&(1<<i) != 0 {
			out = append(out, "attributes["+strconv.Quote(k)+"]")
		}
	}
	return out
}

// unknownText is the detail of an unknown-fact reason.
func (ru *rule) unknownText(f facts) string {
	return "eligibility rule needs " + strings.Join(ru.factNamesOf(f), ", ")
}

// errorText is the detail of a rule-error reason: a fixed text and the position
// expr gives, never expr's message, which may quote the person's values.
func (ru *rule) errorText(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		return ru.errText + " (line " + strconv.Itoa(fe.Line) + ", column " + strconv.Itoa(fe.Column) + ")"
	}
	return ru.errText
}
