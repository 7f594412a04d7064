package hsds_test

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// leaves flattens a JSON document into its leaf values by path. An array
// element with an id is named by it ("phones[id=p1]"), so a record's leaves
// keep their paths whatever order a writer lists it in; numbers compare by
// value.
func leaves(doc []byte) map[string]string {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	out := map[string]string{}
	walkLeaves(v, "", out)
	return out
}

func walkLeaves(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walkLeaves(e, path+"."+k, out)
		}
	case []any:
		for i, e := range x {
			key := "[" + strconv.Itoa(i) + "]"
			if o, ok := e.(map[string]any); ok {
				if id, ok := o["id"].(string); ok {
					key = "[id=" + id + "]"
				}
			}
			for n := 2; ; n++ {
				if _, taken := out[path+key+".id"]; !taken {
					break
				}
				key = strings.TrimSuffix(key, "]") + "#" + strconv.Itoa(n) + "]"
			}
			walkLeaves(e, path+key, out)
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			out[path] = "n:" + string(x)
			return
		}
		out[path] = "n:" + strconv.FormatFloat(f, 'g', -1, 64)
	case string:
		out[path] = "s:" + x
	case bool:
		out[path] = "b:" + strconv.FormatBool(x)
	case nil:
		out[path] = "null"
	}
}

// retention counts the leaves of in that out holds with the same value, and
// lists the others.
func retention(in, out map[string]string) (kept int, lost []string) {
	for p, v := range in {
		if out[p] == v {
			kept++
		} else {
			lost = append(lost, p)
		}
	}
	sort.Strings(lost)
	return kept, lost
}
