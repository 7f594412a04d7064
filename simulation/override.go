package simulation

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// Limits on overrides, which come from command lines and experiment designs.
const (
	MaxSets       = 1_000
	maxPathLength = 500
	maxPathDepth  = 32
)

// Set overrides one value of a scenario before it is validated: what `refkit
// simulate --set` and the arms of an experiment change.
type Set struct {
	// Path names the value in the scenario's JSON: object keys joined by dots,
	// list elements by [index], or in lists of named objects (services, sites)
	// by [name=Their Name]. For example "policy.radius_km",
	// "services[2].capacity.slots",
	// "services[name=Housing Help Desk].capacity.slots", "sites[0].hourly[7]".
	// It must name a field the scenario format has (a field absent from the
	// file is added); a list element must exist.
	Path string `json:"path"`
	// Value is the new value as JSON; its type must be the field's.
	Value json.RawMessage `json:"value"`
}

// ParseSet reads "path=value". The value is JSON ("15", "true",
// "{\"slots\": 4}"), or else a string ("policy.accept_within=48h").
func ParseSet(s string) (Set, error) {
	// The value starts at the first = outside brackets: a path's [name=...]
	// holds one.
	cut, depth := -1, 0
	for i := 0; i < len(s) && cut < 0; i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '=':
			if depth == 0 {
				cut = i
			}
		}
	}
	if cut < 0 {
		return Set{}, referral.Invalid("set", "must be path=value")
	}
	path, value := strings.TrimSpace(s[:cut]), s[cut+1:]
	if path == "" {
		return Set{}, referral.Invalid("set", "must be path=value")
	}
	raw := json.RawMessage(strings.TrimSpace(value))
	if !json.Valid(raw) {
		raw, _ = json.Marshal(value)
	}
	return Set{Path: path, Value: raw}, nil
}

// String gives the override back as path=value.
func (s Set) String() string { return s.Path + "=" + string(s.Value) }

// segment is one step of a path: an object key, a list index, or a list
// element named by its name field.
type segment struct {
	key   string
	index int // -1 unless an index
	name  string
	named bool
}

func parsePath(path string) ([]segment, error) {
	if len(path) > maxPathLength {
		return nil, referral.Invalid("set", "path is longer than 500 bytes")
	}
	var out []segment
	rest := path
	for rest != "" {
		if len(out) == maxPathDepth {
			return nil, referral.Invalid(path, "is deeper than 32 steps")
		}
		switch rest[0] {
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, referral.Invalid(path, "has an unclosed [")
			}
			inside := rest[1:end]
			rest = rest[end+1:]
			if name, ok := strings.CutPrefix(inside, "name="); ok {
				out = append(out, segment{name: name, named: true, index: -1})
				continue
			}
			i, err := strconv.Atoi(inside)
			if err != nil || i < 0 {
				return nil, referral.Invalid(path, "has ["+inside+"]: want an index or name=...")
			}
			out = append(out, segment{index: i})
		case '.':
			if len(out) == 0 {
				return nil, referral.Invalid(path, "starts with a dot")
			}
			rest = rest[1:]
			fallthrough
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, referral.Invalid(path, "has an empty key")
			}
			out = append(out, segment{key: rest[:end], index: -1})
			rest = rest[end:]
		}
	}
	if len(out) == 0 {
		return nil, referral.Invalid("set", "path is empty")
	}
	return out, nil
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[Duration]()
	rawType      = reflect.TypeFor[json.RawMessage]()
)

// jsonField finds the field of struct type t that JSON names name.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// apply overrides values of a scenario document, checking each path against
// the scenario format and each value's type against the field's.
func apply(data []byte, sets []Set) ([]byte, error) {
	if len(sets) > MaxSets {
		return nil, referral.Invalid("set", "gives more than 1,000 overrides")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return data, nil // not JSON: the strict decoder says where
	}
	doc, ok := root.(map[string]any)
	if !ok {
		return nil, referral.Invalid("scenario", "must be a JSON object")
	}
	for _, s := range sets {
		if err := setPath(doc, s); err != nil {
			return nil, err
		}
	}
	return json.Marshal(doc)
}

func setPath(doc map[string]any, s Set) error {
	segs, err := parsePath(s.Path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(s.Value))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return referral.Invalid(s.Path, "has a value that is not JSON")
	}
	t := reflect.TypeFor[Scenario]()
	var cur any = doc
	for i, seg := range segs {
		last := i == len(segs)-1
		t = deref(t)
		switch {
		case seg.index < 0 && !seg.named:
			if t.Kind() != reflect.Struct || t == timeType {
				return referral.Invalid(s.Path, "goes into "+describe(t)+", which has no fields")
			}
			ft, ok := jsonField(t, seg.key)
			if !ok {
				return referral.Invalid(s.Path, "is not a scenario field ("+seg.key+" is unknown)")
			}
			obj, ok := cur.(map[string]any)
			if !ok {
				return referral.Invalid(s.Path, "goes into a value that is not an object")
			}
			t = ft
			if last {
				if err := checkType(s.Path, t, value); err != nil {
					return err
				}
				obj[seg.key] = value
				return nil
			}
			next, ok := obj[seg.key]
			if !ok || next == nil {
				if deref(t).Kind() != reflect.Struct {
					return referral.Invalid(s.Path, "goes into "+seg.key+", which the scenario does not have")
				}
				next = map[string]any{}
				obj[seg.key] = next
			}
			cur = next
		default:
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return referral.Invalid(s.Path, "indexes "+describe(t)+", which is not a list")
			}
			list, ok := cur.([]any)
			if !ok {
				return referral.Invalid(s.Path, "indexes a value that is not a list")
			}
			at := seg.index
			if seg.named {
				at = -1
				for j, el := range list {
					if obj, ok := el.(map[string]any); ok && obj["name"] == seg.name {
						at = j
						break
					}
				}
				if at < 0 {
					return referral.Invalid(s.Path, "names no element called "+strconv.Quote(seg.name))
				}
			} else if at >= len(list) {
				return referral.Invalid(s.Path, "has no element "+strconv.Itoa(at))
			}
			t = t.Elem()
			if last {
				if err := checkType(s.Path, t, value); err != nil {
					return err
				}
				list[at] = value
				return nil
			}
			cur = list[at]
		}
	}
	return nil
}

// checkType reports a value whose JSON type cannot be the field's.
func checkType(path string, t reflect.Type, v any) error {
	if v == nil {
		if t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			return nil
		}
		return referral.Invalid(path, "cannot be null")
	}
	t = deref(t)
	want := describe(t)
	ok := false
	switch {
	case t == timeType || t == durationType:
		_, ok = v.(string)
	case t == rawType:
		ok = true
	default:
		switch t.Kind() {
		case reflect.Bool:
			_, ok = v.(bool)
		case reflect.String:
			_, ok = v.(string)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			n, isNum := v.(json.Number)
			if isNum {
				_, err := strconv.ParseInt(n.String(), 10, 64)
				ok = err == nil
			}
		case reflect.Float32, reflect.Float64:
			_, ok = v.(json.Number)
		case reflect.Struct, reflect.Map:
			_, ok = v.(map[string]any)
		case reflect.Slice, reflect.Array:
			_, ok = v.([]any)
		}
	}
	if !ok {
		return referral.Invalid(path, "must be "+want)
	}
	return nil
}

// describe names a field's JSON type for error messages.
func describe(t reflect.Type) string {
	switch {
	case t == timeType:
		return "a time (RFC 3339)"
	case t == durationType:
		return "a duration such as \"48h\" or \"14d\""
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return t.String()
}
