package hsds

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// These tests read the Open Referral specification itself: a checkout of its
// branch 3.0 named by REFKIT_HSDS_SPEC, and of its branch 3.1-dev by
// REFKIT_HSDS_SPEC_31 (for example, extracted with git archive). The
// specification's files are not part of refkit; without the variables the
// tests are skipped.

func specVersions(t *testing.T) map[Version]string {
	out := map[Version]string{}
	for _, v := range []Version{Version30, Version31} {
		name := map[Version]string{Version30: "REFKIT_HSDS_SPEC", Version31: "REFKIT_HSDS_SPEC_31"}[v]
		if dir := os.Getenv(name); dir != "" {
			out[v] = dir
		}
	}
	if len(out) == 0 {
		t.Skip("REFKIT_HSDS_SPEC and REFKIT_HSDS_SPEC_31 name no checkout of the HSDS specification; skipping the checks against it")
	}
	return out
}

// schemaProps reads schema/NAME.json: its properties in order, as (name, kind)
// where kind is "field", "many:TABLE" or "one:TABLE".
func schemaProps(t *testing.T, dir, file string) (name, path string, props [][2]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "schema", file))
	require.NoError(t, err)
	// Properties are read in document order: a JSON object's key order is not
	// kept by encoding/json maps.
	var doc struct {
		Name       string          `json:"name"`
		Path       string          `json:"path"`
		Properties json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	if doc.Path == "" {
		return doc.Name, "", nil // not a table: openapi.json
	}
	dec := json.NewDecoder(bytes.NewReader(doc.Properties))
	_, err = dec.Token()
	require.NoError(t, err)
	for dec.More() {
		key, err := dec.Token()
		require.NoError(t, err)
		var p struct {
			Type  string `json:"type"`
			Ref   string `json:"$ref"`
			Items struct {
				Ref string `json:"$ref"`
			} `json:"items"`
		}
		require.NoError(t, dec.Decode(&p))
		kind := "field"
		switch {
		case p.Type == "array":
			kind = "many:" + strings.TrimSuffix(p.Items.Ref, ".json")
		case p.Ref != "":
			kind = "one:" + strings.TrimSuffix(p.Ref, ".json")
		}
		props = append(props, [2]string{key.(string), kind})
	}
	return doc.Name, doc.Path, props
}

// TestSpecTables checks spec.go against the specification's schema files:
// every table, file, column (in order) and nesting.
func TestSpecTables(t *testing.T) {
	for v, dir := range specVersions(t) {
		t.Run(string(v), func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(dir, "schema", "*.json"))
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, f := range files {
				name, path, props := schemaProps(t, dir, filepath.Base(f))
				if path == "" {
					continue // openapi.json
				}
				seen[name] = true
				tb := byName[name]
				require.NotNil(t, tb, "table %s", name)
				require.True(t, v.has(tb.since), name)
				require.Equal(t, path, tb.file, name)
				var fields, nests []string
				for _, p := range props {
					if p[1] == "field" {
						fields = append(fields, p[0])
					} else {
						nests = append(nests, p[0]+" "+p[1])
					}
				}
				var cols, ours []string
				for _, c := range tb.columnsOf(v) {
					cols = append(cols, c.name)
				}
				for _, n := range tb.nests {
					if v.has(n.since) && !n.jsonOnly {
						kind := "one:"
						if n.many {
							kind = "many:"
						}
						ours = append(ours, n.key+" "+kind+n.table)
					}
				}
				require.Equal(t, fields, cols, "columns of %s", name)
				slices.Sort(nests)
				slices.Sort(ours)
				require.Equal(t, nests, ours, "nestings of %s", name)
			}
			for _, tb := range tables {
				if v.has(tb.since) {
					require.True(t, seen[tb.name], "%s is not in the %s schema", tb.name, v)
				}
			}
		})
	}
}

// TestSpecDatapackage checks that a tabular export lists exactly the
// resources and fields of the specification's datapackage.json. The 3.1-dev
// branch's datapackage.json lists service_capacity with two fields and unit
// with none, against its own schema files; those two are checked against the
// schema files (TestSpecTables) instead.
func TestSpecDatapackage(t *testing.T) {
	for v, dir := range specVersions(t) {
		t.Run(string(v), func(t *testing.T) {
			var official datapackage
			b, err := os.ReadFile(filepath.Join(dir, "datapackage.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &official))
			ds := &Dataset{Version: v}
			out := t.TempDir()
			require.NoError(t, WriteDatapackage(context.Background(), out, ds))
			var ours datapackage
			b, err = os.ReadFile(filepath.Join(out, "datapackage.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &ours))
			require.Len(t, ours.Resources, len(official.Resources))
			for i, r := range official.Resources {
				o := ours.Resources[i]
				require.Equal(t, [2]string{r.Name, r.Path}, [2]string{o.Name, o.Path})
				if v == Version31 && (r.Name == "service_capacity" || r.Name == "unit") {
					continue
				}
				require.Equal(t, r.Schema.Fields, o.Schema.Fields, r.Name)
				header, err := os.ReadFile(filepath.Join(out, o.Path))
				require.NoError(t, err)
				names := make([]string, len(r.Schema.Fields))
				for j, f := range r.Schema.Fields {
					names[j] = f.Name
				}
				require.Equal(t, strings.Join(names, ",")+"\r\n", string(header), "the CSV header")
			}
		})
	}
}

// realCoordinates replaces the examples' placeholder coordinates (latitude
// 100, out of range) by real ones.
var placeholder = regexp.MustCompile(`"latitude": 100,(\s*)"longitude": 101`)

func realCoordinates(b []byte) []byte {
	return placeholder.ReplaceAll(b, []byte(`"latitude": 51.5072,${1}"longitude": -0.1276`))
}

// TestSpecExamples round-trips the specification's JSON examples and counts
// the leaf values that survive, as they come (latitude 100 is kept, unplaced)
// and with real coordinates; every export validates against the compiled
// schema of its record type.
func TestSpecExamples(t *testing.T) {
	for v, dir := range specVersions(t) {
		t.Run(string(v), func(t *testing.T) {
			schemas := compiledSchemas(t, dir)
			for _, ex := range []struct {
				file   string
				shape  Shape
				schema string
			}{
				{"service_full.json", ServicePage, "service.json"},
				{"organization_full.json", OrganizationPage, "organization.json"},
				{"service_at_location_full.json", ServiceAtLocationPage, "service_at_location.json"},
				{"service_list.json", ServicePage, "service.json"},
				{"organization_list.json", OrganizationPage, "organization.json"},
				{"service_at_location_list.json", ServiceAtLocationPage, "service_at_location.json"},
			} {
				raw, err := os.ReadFile(filepath.Join(dir, "examples", ex.file))
				require.NoError(t, err)
				for _, variant := range []string{"as given", "real coordinates"} {
					in := raw
					if variant == "real coordinates" {
						in = realCoordinates(raw)
					}
					ds, err := ReadJSON(context.Background(), bytes.NewReader(in), Options{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")})
					require.NoError(t, err)
					ds.Version = v
					var out bytes.Buffer
					require.NoError(t, WriteJSONAs(context.Background(), &out, ds, ex.shape))
					var page struct{ Contents []json.RawMessage }
					require.NoError(t, json.Unmarshal(out.Bytes(), &page))
					records := inputRecords(t, in)
					require.Len(t, page.Contents, len(records), ex.file)
					total, kept := 0, 0
					for i, rec := range records {
						in, got := specLeaves(rec), specLeaves(page.Contents[i])
						for p, val := range in {
							total++
							if got[p] == val {
								kept++
							} else {
								t.Errorf("%s %s: lost %s", ex.file, variant, p)
							}
						}
						inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(page.Contents[i]))
						require.NoError(t, err)
						require.NoError(t, schemas[ex.schema].Validate(inst), "%s export against compiled/%s", ex.file, ex.schema)
					}
					t.Logf("HSDS %s %s (%s): %d of %d leaf values kept", v, ex.file, variant, kept, total)
				}
			}
		})
	}
}

// inputRecords is the records of an example: a page's contents or the one record.
func inputRecords(t *testing.T, b []byte) []json.RawMessage {
	var page struct{ Contents []json.RawMessage }
	if json.Unmarshal(b, &page) == nil && page.Contents != nil {
		return page.Contents
	}
	return []json.RawMessage{b}
}

func compiledSchemas(t *testing.T, dir string) map[string]*jsonschema.Schema {
	out := map[string]*jsonschema.Schema{}
	for _, name := range []string{"service.json", "organization.json", "service_at_location.json"} {
		f, err := os.Open(filepath.Join(dir, "schema", "compiled", name))
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		require.NoError(t, err)
		c := jsonschema.NewCompiler()
		require.NoError(t, c.AddResource(name, doc))
		sch, err := c.Compile(name)
		require.NoError(t, err)
		out[name] = sch
	}
	return out
}

// TestSpecFixturesValidate validates refkit's own exports (the sample and the
// full-coverage fixture, in both versions) against the compiled schemas.
func TestSpecFixturesValidate(t *testing.T) {
	for v, dir := range specVersions(t) {
		t.Run(string(v), func(t *testing.T) {
			schemas := compiledSchemas(t, dir)
			for _, file := range []string{filepath.Join("testdata", "json", "services.json"), filepath.Join("testdata", "full-"+string(v), "services.json")} {
				b, err := os.ReadFile(file)
				require.NoError(t, err)
				ds, err := ReadJSON(context.Background(), bytes.NewReader(b), Options{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")})
				require.NoError(t, err)
				ds.Version = v
				for shape, schema := range map[Shape]string{ServicePage: "service.json", OrganizationPage: "organization.json", ServiceAtLocationPage: "service_at_location.json"} {
					var out bytes.Buffer
					require.NoError(t, WriteJSONAs(context.Background(), &out, ds, shape))
					var page struct{ Contents []json.RawMessage }
					require.NoError(t, json.Unmarshal(out.Bytes(), &page))
					for _, rec := range page.Contents {
						inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec))
						require.NoError(t, err)
						require.NoError(t, schemas[schema].Validate(inst), "%s as %s", file, schema)
					}
				}
			}
		})
	}
}

// TestSpecTabularExample reads the specification's tabular example, writes it
// back and counts the cells that survive. Rows that link to no record in the
// package (the example's attribute, metadata and taxonomy rows name ids that
// exist nowhere in it, and meta_table_descriptions belong to no record) are
// reported and not kept: a store keeps records.
func TestSpecTabularExample(t *testing.T) {
	for v, dir := range specVersions(t) {
		t.Run(string(v), func(t *testing.T) {
			src := filepath.Join(dir, "examples", "csv")
			ds, err := ReadDatapackage(context.Background(), os.DirFS(src), Options{Network: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")})
			require.NoError(t, err)
			unlinked := map[string]bool{}
			for _, p := range ds.Problems {
				if !p.Kept {
					unlinked[p.Record+" "+p.ID] = true
				}
			}
			out := t.TempDir()
			require.NoError(t, WriteDatapackage(context.Background(), out, ds))
			total, kept, dropped := 0, 0, 0
			for _, tb := range tables {
				if !v.has(tb.since) {
					continue
				}
				in := readCells(t, filepath.Join(src, tb.file))
				got := readCells(t, filepath.Join(out, tb.file))
				for id, row := range in {
					for col, val := range row {
						total++
						switch {
						case got[id][col] == val:
							kept++
						case unlinked[tb.name+" "+id]:
							dropped++
						default:
							t.Errorf("%s row %s: lost %s", tb.file, id, col)
						}
					}
				}
			}
			t.Logf("HSDS %s examples/csv: %d of %d cells kept; %d in rows linked to no record, reported", v, kept, total, dropped)
		})
	}
}

func readCells(t *testing.T, path string) map[string]map[string]string {
	out := map[string]map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, v := range r {
			if v != "" && i < len(recs[0]) {
				row[recs[0][i]] = v
			}
		}
		out[row["id"]] = row
	}
	return out
}

// specLeaves flattens a record into leaf values by path, naming array elements
// by id (see leaves in the external tests).
func specLeaves(doc []byte) map[string]string {
	v, err := decodeValue(doc)
	if err != nil {
		panic(err)
	}
	out := map[string]string{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case object:
			for k, e := range x {
				walk(e, path+"."+k)
			}
		case []any:
			for i, e := range x {
				key := "[" + string(rune('0'+i%10)) + "]"
				if id := idOf(e); id != "" {
					key = "[id=" + id + "]"
				}
				walk(e, path+key)
			}
		case json.Number:
			f, _ := finite(x)
			out[path] = "n:" + json.Number(strings.TrimSuffix(strings.TrimRight(string(numf(f)), "0"), ".")).String()
		case string:
			out[path] = "s:" + x
		default:
			b, _ := json.Marshal(x)
			out[path] = string(b)
		}
	}
	walk(v, "")
	return out
}
