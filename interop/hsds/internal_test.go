package hsds

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func TestArea(t *testing.T) {
	square := `{"type":"Polygon","coordinates":[[[-97.8,30.2],[-97.6,30.2],[-97.6,30.4],[-97.8,30.2]]]}`
	tri := []referral.Point{{Latitude: 30.2, Longitude: -97.8}, {Latitude: 30.2, Longitude: -97.6}, {Latitude: 30.4, Longitude: -97.6}}
	tests := []struct {
		name, extent, kind string
		want               referral.ServiceArea
		reason             string
	}{
		{name: "county", kind: "text", extent: "county: Travis, Hays", want: referral.ServiceArea{Kind: referral.AreaCounty, Values: []string{"Travis", "Hays"}}},
		{name: "zip without type", extent: "zip:78701", want: referral.ServiceArea{Kind: referral.AreaZip, Values: []string{"78701"}}},
		{name: "state upper-cased", kind: "TEXT", extent: "State:tx", want: referral.ServiceArea{Kind: referral.AreaState, Values: []string{"TX"}}},
		{name: "virtual", kind: "text", extent: "virtual", want: referral.ServiceArea{Kind: referral.AreaVirtual}},
		{name: "polygon", kind: "geojson", extent: square, want: referral.ServiceArea{Kind: referral.AreaPolygon, Polygon: tri}},
		{name: "feature", kind: "geojson", extent: `{"type":"Feature","geometry":` + square + `}`, want: referral.ServiceArea{Kind: referral.AreaPolygon, Polygon: tri}},
		{name: "free text", reason: "a free-text service area cannot be mapped: give a geojson extent or a text extent such as county:NAME"},
		{name: "unknown kind", extent: "city:Austin", reason: "a text extent must start with county:, zip:, state: or be virtual"},
		{name: "no values", extent: "county: , ", reason: "a county extent needs at least one value"},
		{name: "virtual with values", extent: "virtual:US", reason: "a virtual extent takes no values"},
		{name: "kml", kind: "kml", extent: "<kml/>", reason: "extent_type must be geojson or text"},
		{name: "bad geojson", kind: "geojson", extent: "{", reason: "extent is not valid GeoJSON"},
		{name: "point", kind: "geojson", extent: `{"type":"Point","coordinates":[1,2]}`, reason: "a geojson extent must be a Polygon"},
		{name: "holes", kind: "geojson", extent: `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]],[[0.1,0.1],[0.2,0.1],[0.2,0.2]]]}`, reason: "polygons with holes are not supported"},
		{name: "short position", kind: "geojson", extent: `{"type":"Polygon","coordinates":[[[0],[1,0],[1,1]]]}`, reason: "a geojson position needs a longitude and a latitude"},
		{name: "coordinates not rings", kind: "geojson", extent: `{"type":"Polygon","coordinates":[1,2]}`, reason: "a geojson Polygon needs coordinates as rings of [longitude, latitude]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := area(tc.extent, tc.kind)
			require.Equal(t, tc.reason, reason)
			if reason != "" {
				return
			}
			require.Equal(t, tc.want, got)
			extent, kind := extentOf(got)
			back, reason := area(extent, kind)
			require.Empty(t, reason)
			require.Equal(t, got, back, "an exported area reads back the same")
			// The text an area was read from is written again while it says the same.
			got.Extent, got.ExtentType = tc.extent, tc.kind
			e, k := extentFor(got)
			require.Equal(t, [2]string{tc.extent, tc.kind}, [2]string{e, k})
			got.Values = append(got.Values, "Extra")
			if got.Kind == referral.AreaCounty {
				e, _ = extentFor(got)
				require.Equal(t, "county:Travis,Hays,Extra", e, "an edited area is written as it is now")
			}
		})
	}
}

func TestDeriveID(t *testing.T) {
	n1 := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	n2 := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ac")
	a := derive(n1, "service", "42")
	_, err := referral.ParseID(a.String())
	require.NoError(t, err, "a derived ID is a valid UUIDv7")
	require.Equal(t, a, derive(n1, "service", "42"))
	require.NotEqual(t, a, derive(n2, "service", "42"), "networks do not share IDs")
	require.NotEqual(t, a, derive(n1, "location", "42"), "record types do not share IDs")

	m := newIDs(n1)
	v7 := "0190A6F0-8A4B-7C3D-9E2F-0123456789AD"
	require.Equal(t, referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ad"), m.of("service", v7))
	require.Equal(t, v7, m.source(v7), "the spelling is kept to write it back")
	require.Empty(t, m.source("0190a6f0-8a4b-7c3d-9e2f-0123456789ad"), "a UUIDv7 id is the ID")
	require.Equal(t, a, m.of("service", "42"))
	require.Equal(t, "42", m.source("42"))
}

func decode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeValue([]byte(s))
	require.NoError(t, err)
	return v
}

func encode(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, encodeValue(&buf, v, nil, Version31))
	return buf.String()
}

// TestDiffMerge checks the kept part: what the projection does not reproduce
// is kept, and merging it back gives the input again.
func TestDiffMerge(t *testing.T) {
	owner := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	c := mintCtx{owner: owner}
	tests := []struct {
		name, in, proj, kept string
	}{
		{"typed fields only", `{"id":"s","name":"A"}`, `{"id":"s","name":"A"}`, `null`},
		{"an untyped field", `{"id":"s","name":"A","fees":"none"}`, `{"id":"s","name":"A"}`, `{"fees":"none"}`},
		{"numbers by value", `{"id":"s","age":12.0}`, `{"id":"s","age":12}`, `null`},
		{"an empty array", `{"id":"s","phones":[]}`, `{"id":"s"}`, `null`},
		{"an element's extra field", `{"id":"s","phones":[{"id":"p","number":"1","note":"x"}]}`, `{"id":"s","phones":[{"id":"p","number":"1"}]}`,
			`{"phones":{"$items":[{"id":"p","note":"x"}]}}`},
		{"an element never typed", `{"id":"s","phones":[{"id":"p"}]}`, `{"id":"s"}`, `{"phones":[{"id":"p"}]}`},
		{"an element among typed ones", `{"id":"s","phones":[{"id":"p","number":"1"},{"id":"q"}]}`, `{"id":"s","phones":[{"id":"p","number":"1"}]}`,
			`{"phones":{"$items":[{"$keep":{"id":"q"}}]}}`},
		{"an element matched by content", `{"id":"s","languages":[{"id":"l","code":"es","name":"Spanish"}]}`, `{"id":"s","languages":[{"code":"es"}]}`,
			`{"languages":{"$items":[{"$at":{"code":"es","id":"l","name":"Spanish"}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := decode(t, tc.in)
			proj := decode(t, tc.proj).(object)
			markMinted(c, "", proj)
			kept := diff(c, "", in, proj)
			require.JSONEq(t, tc.kept, encode(t, kept))
			back := merge(c, "", proj, kept).(object)
			dropMarks(back)
			want := tc.in
			if tc.name == "an empty array" {
				want = `{"id":"s"}` // null and [] say nothing, as in the tabular form
			}
			require.JSONEq(t, want, encode(t, back))
		})
	}

	// A projection that changed since: its values win, elements it dropped
	// lose what was kept of them, elements never typed stay.
	in := decode(t, `{"id":"s","name":"A","fees":"none","phones":[{"id":"p","number":"1","note":"x"},{"id":"q"}],"languages":[{"id":"l","code":"es","name":"Spanish"}]}`)
	proj := decode(t, `{"id":"s","name":"A","phones":[{"id":"p","number":"1"}],"languages":[{"code":"es"}]}`).(object)
	markMinted(c, "", proj)
	kept := diff(c, "", in, proj)
	now := decode(t, `{"id":"s","name":"B","phones":[{"id":"r","number":"2"}],"languages":[{"code":"en"}]}`).(object)
	markMinted(c, "", now)
	back := merge(c, "", now, kept).(object)
	dropMarks(back)
	langs := back["languages"].([]any)
	require.Len(t, langs, 1)
	minted := langs[0].(object)["id"]
	require.NotEmpty(t, minted, "a new language gets an id")
	require.JSONEq(t, `{"id":"s","name":"B","fees":"none","phones":[{"id":"r","number":"2"},{"id":"q"}],"languages":[{"id":"`+minted.(string)+`","code":"en"}]}`, encode(t, back))
}

func TestDecodeValueBounds(t *testing.T) {
	deep := bytes.Repeat([]byte("["), maxDepth+1)
	_, err := decodeValue(deep)
	require.ErrorIs(t, err, errTooDeep)
	_, err = decodeValue([]byte(`{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}`))
	require.NoError(t, err, "brackets in strings do not count")
	_, err = decodeValue([]byte(`{} {}`))
	require.Error(t, err, "one value only")
	var buf bytes.Buffer
	require.NoError(t, encodeValue(&buf, "a\u2028<b>\"\\\x01", nil, Version30))
	var s string
	require.NoError(t, json.Unmarshal(buf.Bytes(), &s))
	require.Equal(t, "a\u2028<b>\"\\\x01", s)
	require.Contains(t, buf.String(), "<b>", "no HTML escaping")
}

// TestFixturesCoverTheSpecification checks that the full-coverage fixtures
// fill every column of every table and every nesting of the JSON form, per
// version, but meta_table_description (dataset-level: no record holds it).
func TestFixturesCoverTheSpecification(t *testing.T) {
	for _, v := range []Version{Version30, Version31} {
		t.Run(string(v), func(t *testing.T) {
			dir := filepath.Join("testdata", "full-"+string(v))
			b, err := os.ReadFile(filepath.Join(dir, "services.json"))
			require.NoError(t, err)
			var page struct{ Contents []json.RawMessage }
			require.NoError(t, json.Unmarshal(b, &page))
			seen := map[string]bool{}
			for _, raw := range page.Contents {
				v, err := decodeValue(raw)
				require.NoError(t, err)
				walkTyped(v, byName["service"], seen)
			}
			for _, tb := range tables {
				if tb.name == "meta_table_description" || !v.has(tb.since) {
					continue
				}
				for _, c := range tb.columnsOf(v) {
					require.True(t, seen[tb.name+"."+c.name], "JSON fixture lacks %s.%s", tb.name, c.name)
				}
				for _, n := range tb.nests {
					if n.jsonOnly || !v.has(n.since) || n.table == "meta_table_description" {
						continue
					}
					require.True(t, seen[tb.name+"."+n.key], "JSON fixture nests nothing under %s.%s", tb.name, n.key)
				}
				f, err := os.Open(filepath.Join(dir, "csv", tb.file))
				require.NoError(t, err)
				recs, err := csv.NewReader(f).ReadAll()
				f.Close()
				require.NoError(t, err)
				for i, col := range recs[0] {
					filled := false
					for _, r := range recs[1:] {
						filled = filled || r[i] != ""
					}
					require.True(t, filled, "tabular fixture leaves %s.%s empty", tb.file, col)
				}
			}
		})
	}
}

// walkTyped notes the fields a record holds; the link column of a nested
// record is held by its nesting (the JSON form leaves it out).
func walkTyped(v any, t *table, seen map[string]bool) {
	switch x := v.(type) {
	case object:
		for k, e := range x {
			seen[t.name+"."+k] = true
			if n, ok := t.nestOf(k); ok {
				if n.many {
					seen[n.table+"."+n.fk] = true
					switch n.fk {
					case linkID:
						seen[n.table+"."+linkEntity] = true
					case resourceID:
						seen[n.table+"."+resourceType] = true
					}
				}
				walkTyped(e, byName[n.table], seen)
			}
		}
	case []any:
		for _, e := range x {
			walkTyped(e, t, seen)
		}
	}
}
