package simulation

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// MaxPointsBytes bounds a population points file.
const MaxPointsBytes = 256 << 20

// MaxCatchmentMembers bounds the people all site catchments hold together
// (a person within two catchments counts twice), which is the memory the
// catchments take.
const MaxCatchmentMembers = 20_000_000

// placement is one place a person can live: a point, or an H3 cell people are
// placed in uniformly, with its weight.
type placement struct {
	lat, lon           float64
	cell               h3.Cell
	weight             float64
	state, county, zip string
}

// pointColumns are the names a points file's header may give its columns.
var pointColumns = map[string]string{
	"latitude": "latitude", "lat": "latitude",
	"longitude": "longitude", "lon": "longitude", "lng": "longitude",
	"h3_cell": "h3_cell", "cell": "h3_cell", "weight": "weight",
	"state": "state", "county": "county", "zip": "zip",
}

// readPoints reads a points file (see Load) of at most limit bytes: it stops
// reading at limit+1 bytes, whatever the file's size.
func readPoints(r io.Reader, limit int64) ([]placement, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []placement
	// col maps a column name to its position; nil until a header names them.
	var col map[string]int
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if lr.N <= 0 {
			return nil, referral.Invalid("population.points_file", "is larger than 256 MiB")
		}
		if err == io.EOF {
			break
		}
		field := idx("population.points_file", row)
		if err != nil {
			return nil, referral.Invalid(field, "is not CSV")
		}
		if len(rec) > 8 {
			return nil, referral.Invalid(field, "has more than 8 columns")
		}
		if row == 0 {
			if named, ok := header(rec); ok {
				if err := checkHeader(named); err != nil {
					return nil, err
				}
				col = named
				continue
			}
		}
		p, err := parsePlacement(rec, col, field, row == 0)
		if err == errHeader {
			continue // a first row that is not data is a header we do not read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		if len(out) > MaxPopulation {
			return nil, referral.Invalid("population.points_file", "has more than 5,000,000 rows")
		}
	}
	if len(out) == 0 {
		return nil, referral.Invalid("population.points_file", "has no rows")
	}
	total := 0.0
	for _, p := range out {
		total += p.weight
	}
	if total <= 0 || math.IsInf(total, 0) {
		return nil, referral.Invalid("population.points_file", "weights must add up to a finite number above 0")
	}
	return out, nil
}

// header reads a first row whose every field is a column name.
func header(rec []string) (map[string]int, bool) {
	named := map[string]int{}
	for i, f := range rec {
		name, ok := pointColumns[strings.ToLower(strings.TrimSpace(f))]
		if !ok {
			return nil, false
		}
		if _, dup := named[name]; dup {
			return nil, false
		}
		named[name] = i
	}
	return named, true
}

func checkHeader(col map[string]int) error {
	_, lat := col["latitude"]
	_, lon := col["longitude"]
	_, cell := col["h3_cell"]
	switch {
	case cell && (lat || lon):
		return referral.Invalid("population.points_file", "names h3_cell and latitude/longitude: give one or the other")
	case !cell && !(lat && lon):
		return referral.Invalid("population.points_file", "needs latitude and longitude columns, or h3_cell")
	}
	return nil
}

var errHeader = errors.New("not a data row")

// parsePlacement reads one data row: by the header's names when there is one,
// else as latitude,longitude[,state,county,zip].
// A first row (first) whose coordinates are not numbers is errHeader.
func parsePlacement(rec []string, col map[string]int, field string, first bool) (placement, error) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	positional := col == nil
	if positional {
		if len(rec) < 2 || len(rec) > 5 {
			return placement{}, referral.Invalid(field, "needs latitude,longitude[,state,county,zip]")
		}
		col = map[string]int{"latitude": 0, "longitude": 1, "state": 2, "county": 3, "zip": 4}
	} else if len(rec) > len(col) {
		return placement{}, referral.Invalid(field, "has more fields than the header")
	}
	p := placement{weight: 1, state: get("state"), county: get("county"), zip: get("zip")}
	for _, v := range []struct{ name, value string }{{"state", p.state}, {"county", p.county}, {"zip", p.zip}} {
		if len(v.value) > 100 {
			return placement{}, referral.Invalid(field, v.name+" is longer than 100 bytes")
		}
	}
	if w := get("weight"); w != "" {
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return placement{}, referral.Invalid(field, "weight must be a finite number ≥ 0")
		}
		p.weight = v
	}
	if _, ok := col["h3_cell"]; ok {
		c := h3.Cell(h3.IndexFromString(get("h3_cell")))
		if !c.IsValid() {
			return placement{}, referral.Invalid(field, "h3_cell is not an H3 cell")
		}
		ll := c.LatLng()
		p.cell, p.lat, p.lon = c, ll.Lat, ll.Lng
		return p, nil
	}
	lat, err1 := strconv.ParseFloat(get("latitude"), 64)
	lon, err2 := strconv.ParseFloat(get("longitude"), 64)
	if err1 != nil || err2 != nil {
		if first && positional {
			return placement{}, errHeader
		}
		return placement{}, referral.Invalid(field, "latitude and longitude must be numbers")
	}
	if err := (referral.Point{Latitude: lat, Longitude: lon}).Validate(); err != nil {
		return placement{}, referral.Invalid(field, "is not a valid coordinate")
	}
	p.lat, p.lon = lat, lon
	return p, nil
}

// placer draws where people live from the points file's rows by weight.
type placer struct {
	rows []placement
	cum  []float64
}

func newPlacer(rows []placement) *placer {
	p := &placer{rows: rows, cum: make([]float64, len(rows))}
	total := 0.0
	for i, r := range rows {
		total += r.weight
		p.cum[i] = total
	}
	return p
}

// place draws a row and a place in it, and returns the row's index too.
func (p *placer) place(r *rand.Rand) (placement, int) {
	x := r.Float64() * p.cum[len(p.cum)-1]
	i, _ := slices.BinarySearch(p.cum, x)
	for i < len(p.cum)-1 && p.cum[i] <= x {
		i++
	}
	pl := p.rows[i]
	if pl.cell != 0 {
		pl.lat, pl.lon = inCell(r, pl.cell)
	}
	return pl, i
}

// inCell draws a point uniformly within an H3 cell: uniformly within the
// circle through its farthest vertex, kept when it falls in the cell (about
// five draws in six do). After 64 misses, which a cell's geometry makes
// vanishingly unlikely, the centre is used.
func inCell(r *rand.Rand, c h3.Cell) (float64, float64) {
	centre := c.LatLng()
	reach := 0.0
	for _, v := range c.Boundary() {
		reach = max(reach, kmBetween(centre.Lat, centre.Lng, v.Lat, v.Lng))
	}
	res := c.Resolution()
	for range 64 {
		d := reach * math.Sqrt(r.Float64())
		a := 2 * math.Pi * r.Float64()
		lat := clamp(centre.Lat+d*math.Cos(a)/111.32, -89.9, 89.9)
		lon := wrapLon(centre.Lng + d*math.Sin(a)/(111.32*math.Max(0.01, math.Cos(centre.Lat*math.Pi/180))))
		if h3.LatLngToCell(h3.NewLatLng(lat, lon), res) == c {
			return lat, lon
		}
	}
	return centre.Lat, centre.Lng
}

// kmBetween is the great-circle distance in kilometres.
func kmBetween(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * 6371.0088 * math.Asin(math.Min(1, math.Sqrt(a)))
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func wrapLon(v float64) float64 {
	for v > 180 {
		v -= 360
	}
	for v < -180 {
		v += 360
	}
	return v
}

// catchmentGrid is 0.1° (about 11 km north to south), the cell of the grid
// people are bucketed in to find those within a site's catchment.
const catchmentGrid = 0.1

// catchments returns, for each site with a catchment, the people living
// within it (indexes into points, in order); nil for sites without one. The
// people are bucketed on a grid once, and each catchment looks only at the
// buckets its bounding box covers. It fails when a catchment holds nobody or
// all together hold more than limit (MaxCatchmentMembers): it stops at the
// catchment that passes it.
func catchments(sites []Site, points []referral.Point, limit int) ([][]int32, error) {
	any := false
	for _, s := range sites {
		any = any || s.CatchmentKM > 0
	}
	if !any {
		return make([][]int32, len(sites)), nil
	}
	type bucket struct{ lat, lon int32 }
	keyOf := func(lat, lon float64) bucket {
		return bucket{int32(math.Floor(lat / catchmentGrid)), int32(math.Floor(lon / catchmentGrid))}
	}
	buckets := map[bucket][]int32{}
	for i, p := range points {
		k := keyOf(p.Latitude, p.Longitude)
		buckets[k] = append(buckets[k], int32(i))
	}
	out := make([][]int32, len(sites))
	total := 0
	for si, s := range sites {
		if s.CatchmentKM <= 0 {
			continue
		}
		dlat := s.CatchmentKM / 111.0
		dlon := s.CatchmentKM / (111.0 * math.Max(0.01, math.Cos(math.Min(89, math.Abs(s.Latitude)+dlat)*math.Pi/180)))
		lo, hi := keyOf(s.Latitude-dlat, s.Longitude-dlon), keyOf(s.Latitude+dlat, s.Longitude+dlon)
		var members []int32
		for a := lo.lat; a <= hi.lat; a++ {
			for b := lo.lon; b <= hi.lon; b++ {
				for _, i := range buckets[bucket{a, b}] {
					p := points[i]
					if kmBetween(s.Latitude, s.Longitude, p.Latitude, p.Longitude) <= s.CatchmentKM {
						members = append(members, i)
					}
				}
			}
		}
		if len(members) == 0 {
			return nil, referral.Invalid(idx("sites", si)+".catchment_km", "holds nobody of the population")
		}
		total += len(members)
		if total > limit {
			return nil, referral.Invalid("sites", "catchments hold more than 20,000,000 people in all")
		}
		slices.Sort(members)
		out[si] = members
	}
	return out, nil
}
