package hsds

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/refkit/refkit/referral"
)

// HSDS records are handled here as generic JSON values: map[string]any for
// objects, []any for arrays, string, json.Number (numbers keep the text they
// were written with), bool and nil. The importer reads refkit's typed records
// out of them; what the typed records cannot reproduce is kept beside them,
// and the exporter merges it back (see diff and merge).

type object = map[string]any

// maxDepth bounds the nesting of a record: HSDS nests at most about a dozen
// levels (service, service_at_location, location, contact, phone, language,
// attribute, taxonomy_term, taxonomy, metadata), so anything deeper is hostile.
const maxDepth = 40

// decodeValue reads one JSON value with numbers kept as written, refusing
// nesting deeper than maxDepth before it builds anything.
func decodeValue(data []byte) (any, error) {
	if err := checkDepth(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &json.SyntaxError{Offset: dec.InputOffset()}
	}
	return v, nil
}

// errTooDeep reports input nested beyond maxDepth.
var errTooDeep = errors.New("nests deeper than HSDS records do")

// checkDepth scans the brackets of a JSON text, outside strings, in one pass.
func checkDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return errTooDeep
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// num is a json.Number for an integer.
func num(v int) json.Number { return json.Number(strconv.Itoa(v)) }

// numf is a json.Number for a float, in the shortest form that reads back.
func numf(v float64) json.Number { return json.Number(strconv.FormatFloat(v, 'f', -1, 64)) }

// put sets key to a non-empty string.
func put(o object, key, v string) {
	if v != "" {
		o[key] = v
	}
}

// idOf is a record's id as a string, "" when it has none.
func idOf(v any) string {
	o, ok := v.(object)
	if !ok {
		return ""
	}
	switch id := o["id"].(type) {
	case string:
		return id
	case json.Number:
		return string(id)
	}
	return ""
}

// sameScalar compares two scalars; numbers compare by value.
func sameScalar(a, b any) bool {
	switch av := a.(type) {
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case json.Number:
		bv, ok := b.(json.Number)
		if !ok {
			return false
		}
		if av == bv {
			return true
		}
		x, err1 := strconv.ParseFloat(string(av), 64)
		y, err2 := strconv.ParseFloat(string(bv), 64)
		return err1 == nil && err2 == nil && x == y
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case nil:
		return b == nil
	}
	return false
}

func isScalar(v any) bool {
	switch v.(type) {
	case object, []any:
		return false
	}
	return true
}

// The kept part of a record (Service.HSDS, Organization.HSDS) is diff(input,
// projection): the input record less everything the typed record's own export
// (its projection) reproduces. Objects keep the keys whose values differ;
// arrays are kept as {"$items": [...]}, each item one of
//
//	{"id": ID, ...}  what differs in the element the projection has with that id
//	{"$at": elem}    an element matched to a projection element without an id by
//	                 the scalars both hold (a language by its code)
//	{"$keep": elem}  an element the projection does not have at all
//
// so that merge can put each back on the right element even when the typed
// list has changed since: an element the host removed loses its kept fields,
// one refkit never typed is written as it came.
const (
	itemsKey = "$items"
	atKey    = "$at"
	keepKey  = "$keep"
)

// mintCtx is the context of an array: the record that owns it (minted ids
// derive from it) and the id of the object that holds it.
type mintCtx struct {
	owner  referral.ID
	parent string
}

// mintID is the id refkit gives an element the projection writes without one:
// derived from the owner, the parent's id, the array's key and the element's
// scalars, so exports agree and a re-import recognises it.
func mintID(c mintCtx, key string, elem object) string {
	var b strings.Builder
	b.WriteString(key)
	b.WriteByte(0)
	b.WriteString(c.parent)
	keys := make([]string, 0, len(elem))
	for k, v := range elem {
		if isScalar(v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		switch v := elem[k].(type) {
		case string:
			b.WriteString(v)
		case json.Number:
			b.WriteString(string(v))
		}
	}
	return derive(c.owner, "hsds-item", b.String()).String()
}

// diff returns what of in the projection out does not reproduce, nil when it
// reproduces everything.
func diff(c mintCtx, key string, in, out any) any {
	switch iv := in.(type) {
	case object:
		ov, ok := out.(object)
		if !ok {
			return in
		}
		inner := mintCtx{owner: c.owner, parent: idOf(iv)}
		res := object{}
		for k, v := range iv {
			o, present := ov[k]
			if !present {
				if !empty(v) {
					res[k] = v
				}
				continue
			}
			if d := diff(inner, k, v, o); d != nil {
				res[k] = d
			}
		}
		if len(res) == 0 {
			return nil
		}
		return res
	case []any:
		ov, ok := out.([]any)
		if !ok {
			return in
		}
		return diffArray(c, key, iv, ov)
	}
	if sameScalar(in, out) {
		return nil
	}
	return in
}

func diffArray(c mintCtx, key string, in, out []any) any {
	used := make([]bool, len(out))
	var items []any
	for _, e := range in {
		em, ok := e.(object)
		if !ok {
			items = append(items, object{keepKey: e})
			continue
		}
		if j := matchByID(out, used, idOf(em)); j >= 0 {
			used[j] = true
			if d := diff(c, key, em, out[j]); d != nil {
				dm := d.(object)
				dm["id"] = em["id"]
				items = append(items, dm)
			}
			continue
		}
		if j := matchByContent(out, used, em); j >= 0 {
			used[j] = true
			if d := diff(c, key, em, out[j]); d != nil {
				items = append(items, object{atKey: em})
			}
			continue
		}
		items = append(items, object{keepKey: em})
	}
	if len(items) == 0 {
		return nil
	}
	return object{itemsKey: items}
}

// empty reports a value that says nothing: null, or an empty array. The
// tabular form cannot tell them from an absent field, so neither is kept, and
// a record reads the same from either form.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

// matchByID finds the unused element with the given id.
func matchByID(list []any, used []bool, id string) int {
	if id == "" {
		return -1
	}
	for j, o := range list {
		if !used[j] && idOf(o) == id {
			return j
		}
	}
	return -1
}

// matchByContent finds an unused projection element whose id refkit minted and
// whose scalars em holds alike: the projection types those scalars, em adds its
// own id and what is not typed.
func matchByContent(list []any, used []bool, em object) int {
	for j, o := range list {
		om, ok := o.(object)
		if used[j] || !ok || om[mintedKey] != true {
			continue
		}
		if agrees(om, em) {
			return j
		}
	}
	return -1
}

// agrees reports whether every scalar of typed but its id is in kept alike,
// and there is at least one.
func agrees(typed, kept object) bool {
	n := 0
	for k, v := range typed {
		if k == "id" || k == mintedKey || !isScalar(v) {
			continue
		}
		kv, ok := kept[k]
		if !ok || !sameScalar(v, kv) {
			return false
		}
		n++
	}
	return n > 0
}

// mintedKey marks, while a projection is diffed or merged, an id refkit minted.
const mintedKey = "$minted"

// markMinted gives every array element of a projection that has no id one
// (see mintID), marked so that matching can tell it from a source id.
func markMinted(c mintCtx, key string, v any) {
	switch x := v.(type) {
	case object:
		inner := mintCtx{owner: c.owner, parent: idOf(x)}
		for k, e := range x {
			markMinted(inner, k, e)
		}
	case []any:
		for _, e := range x {
			if em, ok := e.(object); ok && idOf(em) == "" {
				em["id"] = mintID(c, key, em)
				em[mintedKey] = true
			}
			markMinted(c, key, e)
		}
	}
}

// dropMarks removes the marks markMinted left.
func dropMarks(v any) {
	switch x := v.(type) {
	case object:
		delete(x, mintedKey)
		for _, e := range x {
			dropMarks(e)
		}
	case []any:
		for _, e := range x {
			dropMarks(e)
		}
	}
}

// merge puts kept values back on a projection. The projection wins where both
// hold a scalar: it is the record as it is now.
func merge(c mintCtx, key string, out, kept any) any {
	if km, ok := kept.(object); ok {
		if items, ok := km[itemsKey].([]any); ok && len(km) == 1 {
			list, _ := out.([]any)
			return mergeArray(c, key, list, items)
		}
	}
	om, ok := out.(object)
	if !ok {
		return out
	}
	km, ok := kept.(object)
	if !ok {
		return out
	}
	inner := mintCtx{owner: c.owner, parent: idOf(om)}
	res := make(object, len(om)+len(km))
	for k, v := range om {
		res[k] = v
	}
	for k, kv := range km {
		if v, ok := res[k]; ok {
			res[k] = merge(inner, k, v, kv)
			continue
		}
		if v, ok := materialize(kv); ok {
			res[k] = v
		}
	}
	return res
}

// materialize is a kept value where the projection has nothing: arrays keep
// only the elements refkit never typed.
func materialize(kept any) (any, bool) {
	km, ok := kept.(object)
	if !ok {
		return kept, true
	}
	items, ok := km[itemsKey].([]any)
	if !ok || len(km) != 1 {
		return kept, true
	}
	var out []any
	for _, it := range items {
		if e, ok := it.(object)[keepKey]; ok {
			out = append(out, e)
		}
	}
	return out, out != nil
}

func mergeArray(c mintCtx, key string, out []any, items []any) any {
	used := make([]bool, len(items))
	res := make([]any, 0, len(out)+len(items))
	for _, e := range out {
		em, ok := e.(object)
		if !ok {
			res = append(res, e)
			continue
		}
		j := itemByID(items, used, idOf(em))
		if j < 0 && em[mintedKey] == true {
			j = itemByContent(items, used, em)
		}
		if j < 0 {
			res = append(res, em)
			continue
		}
		used[j] = true
		it := items[j].(object)
		if at, ok := it[atKey]; ok {
			// The source's id replaces the minted one.
			em = cloneObject(em)
			if id, ok := at.(object)["id"]; ok {
				em["id"] = id
			}
			res = append(res, merge(c, key, em, at))
			continue
		}
		res = append(res, merge(c, key, em, it))
	}
	for _, it := range items {
		if e, ok := it.(object)[keepKey]; ok {
			res = append(res, e)
		}
	}
	return res
}

func itemByID(items []any, used []bool, id string) int {
	if id == "" {
		return -1
	}
	for j, it := range items {
		im, ok := it.(object)
		if used[j] || !ok {
			continue
		}
		if _, at := im[atKey]; at {
			continue
		}
		if _, keep := im[keepKey]; keep {
			continue
		}
		if idOf(im) == id {
			return j
		}
	}
	return -1
}

func itemByContent(items []any, used []bool, em object) int {
	for j, it := range items {
		im, ok := it.(object)
		if used[j] || !ok {
			continue
		}
		if at, ok := im[atKey].(object); ok && agrees(em, at) {
			return j
		}
	}
	return -1
}

func cloneObject(o object) object {
	out := make(object, len(o))
	for k, v := range o {
		out[k] = v
	}
	return out
}

// keptJSON encodes the kept part of a record; nil when nothing is kept.
func keptJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := encodeValue(&buf, v, nil, Version31); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeKept reads a record's kept part.
func decodeKept(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	return decodeValue(raw)
}

// encodeValue writes v as JSON without HTML escaping (eligibility rules read as
// written: "age >= 60"), with the keys of a known record in the order of the
// specification and other keys after them in lexical order. t is v's record
// type, nil when unknown; keys not part of version v are left out.
func encodeValue(buf *bytes.Buffer, v any, t *table, ver Version) error {
	switch x := v.(type) {
	case object:
		return encodeObject(buf, x, t, ver)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, e, t, ver); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		appendString(buf, x)
	case json.Number:
		if !json.Valid([]byte(x)) {
			return errors.New("not a JSON number")
		}
		buf.WriteString(string(x))
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case nil:
		buf.WriteString("null")
	default:
		return errors.New("not a JSON value")
	}
	return nil
}

func encodeObject(buf *bytes.Buffer, o object, t *table, ver Version) error {
	keys := orderedKeys(o, t, ver)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		appendString(buf, k)
		buf.WriteByte(':')
		var child *table
		if t != nil {
			if n, ok := t.nestOf(k); ok {
				child = byName[n.table]
			}
		}
		if err := encodeValue(buf, o[k], child, ver); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// orderedKeys lists o's keys: a known record's columns and nests in the
// specification's order (leaving out those of a later version), then the rest.
func orderedKeys(o object, t *table, ver Version) []string {
	keys := make([]string, 0, len(o))
	if t == nil {
		for k := range o {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	known := make(map[string]bool, len(t.cols)+len(t.nests))
	for _, c := range t.cols {
		known[c.name] = true
		if _, ok := o[c.name]; ok && ver.has(c.since) {
			keys = append(keys, c.name)
		}
	}
	for _, n := range t.nests {
		known[n.key] = true
		if _, ok := o[n.key]; ok && ver.has(n.since) && (byName[n.table].since == "" || ver.has(byName[n.table].since)) {
			keys = append(keys, n.key)
		}
	}
	var rest []string
	for k := range o {
		if !known[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// appendString writes s as a JSON string; s is valid UTF-8 (it was decoded).
func appendString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case c == '\n':
				buf.WriteString(`\n`)
			case c == '\r':
				buf.WriteString(`\r`)
			case c == '\t':
				buf.WriteString(`\t`)
			case c < 0x20:
				buf.WriteString(`\u00`)
				buf.WriteByte("0123456789abcdef"[c>>4])
				buf.WriteByte("0123456789abcdef"[c&0xf])
			default:
				buf.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			buf.WriteString(`\u202` + string("89"[r-'\u2028']))
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// finite reports whether a json.Number reads as a finite float.
func finite(n json.Number) (float64, bool) {
	v, err := strconv.ParseFloat(string(n), 64)
	return v, err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
}
