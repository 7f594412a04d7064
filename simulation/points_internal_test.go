package simulation

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

func TestReadPoints(t *testing.T) {
	cell := h3.LatLngToCell(h3.NewLatLng(41.88, -87.63), 7)
	centre := cell.LatLng()
	for _, tc := range []struct {
		name, in string
		want     []placement
		field    string
	}{
		{"header and rows", "latitude,longitude,state\n41.9,-87.6,IL\n42,-88\n",
			[]placement{{lat: 41.9, lon: -87.6, state: "IL", weight: 1}, {lat: 42, lon: -88, weight: 1}}, ""},
		{"positional rows", "41.9,-87.6,IL,Cook,60601\n", []placement{{lat: 41.9, lon: -87.6, state: "IL", county: "Cook", zip: "60601", weight: 1}}, ""},
		{"a header we do not read", "y,x\n41.9,-87.6\n", []placement{{lat: 41.9, lon: -87.6, weight: 1}}, ""},
		{"named columns in any order with weights", "weight,lon,lat\n3,-87.6,41.9\n0.5,-88,42\n",
			[]placement{{lat: 41.9, lon: -87.6, weight: 3}, {lat: 42, lon: -88, weight: 0.5}}, ""},
		{"h3 cells", "h3_cell,weight,state\n" + cell.String() + ",2,IL\n",
			[]placement{{lat: centre.Lat, lon: centre.Lng, cell: cell, weight: 2, state: "IL"}}, ""},
		{"empty", "", nil, "population.points_file"},
		{"header only", "lat,lon\n", nil, "population.points_file"},
		{"bad number", "41.9,-87.6\nx,1\n", nil, "population.points_file[1]"},
		{"off the globe", "41.9,-187.6\n", nil, "population.points_file[0]"},
		{"too many columns", "1,2,3,4,5,6\n", nil, "population.points_file[0]"},
		{"cells and coordinates", "h3_cell,latitude,longitude\n", nil, "population.points_file"},
		{"no location column", "weight,state\n1,IL\n", nil, "population.points_file"},
		{"not a cell", "h3_cell\nzzz\n", nil, "population.points_file[1]"},
		{"negative weight", "lat,lon,weight\n41.9,-87.6,-1\n", nil, "population.points_file[1]"},
		{"weights all zero", "lat,lon,weight\n41.9,-87.6,0\n", nil, "population.points_file"},
		{"more fields than the header", "lat,lon\n41.9,-87.6,IL\n", nil, "population.points_file[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPoints(bytes.NewBufferString(tc.in), MaxPointsBytes)
			if tc.field != "" {
				var ve *referral.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tc.field, ve.Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadPointsStopsAtItsLimit: a points file over the limit is refused
// having read at most the limit and one byte more, however large it is.
func TestReadPointsStopsAtItsLimit(t *testing.T) {
	row := "41.9,-87.6\n"
	huge := strings.NewReader(strings.Repeat(row, 1_000_000)) // 11 MB
	cr := &countingReader{r: huge}
	const limit = 64 << 10
	_, err := readPoints(cr, limit)
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "population.points_file", ve.Field)
	require.Contains(t, ve.Problem, "larger than")
	// csv reads through a 4 KiB buffer: it asks for at most that much beyond.
	require.LessOrEqual(t, cr.n, int64(limit+1))

	_, err = readPoints(strings.NewReader(strings.Repeat(row, 100)), limit)
	require.NoError(t, err, "a file within the limit reads")
}

// TestPlacementFollowsWeights: people are placed at a points file's rows in
// proportion to their weights (a chi-square test on 200,000 placements, 2
// degrees of freedom: the statistic exceeds 13.8 with probability 0.001), and
// a cell's people all fall in the cell.
func TestPlacementFollowsWeights(t *testing.T) {
	cell := h3.LatLngToCell(h3.NewLatLng(39.74, -104.99), 8)
	rows := []placement{{lat: 41.9, lon: -87.6, weight: 1}, {lat: 42, lon: -88, weight: 3}, {cell: cell, weight: 6}}
	pl := newPlacer(rows)
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	counts := make([]int, 3)
	for range n {
		p, _ := pl.place(r)
		switch {
		case p.cell != 0:
			counts[2]++
			require.Equal(t, cell, h3.LatLngToCell(h3.NewLatLng(p.lat, p.lon), 8), "placed in its cell")
		case p.lat == 41.9:
			counts[0]++
		default:
			counts[1]++
		}
	}
	chi := 0.0
	for i, w := range []float64{0.1, 0.3, 0.6} {
		e := w * n
		chi += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
	}
	require.Less(t, chi, 13.8, "counts %v", counts)
}

func FuzzReadPoints(f *testing.F) {
	f.Add("latitude,longitude\n41.9,-87.6,IL,Cook,60601\n")
	f.Add("1,2\n\"3\",4\n")
	f.Add("h3_cell,weight\n872664c1affffff,2\n")
	f.Add("lat,lon,weight,state,county,zip\n41.9,-87.6,1,IL,Cook,60601\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readPoints(bytes.NewBufferString(in), 1<<16)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NotEmpty(t, got)
		for _, p := range got {
			require.NoError(t, referral.Point{Latitude: p.lat, Longitude: p.lon}.Validate())
			require.GreaterOrEqual(t, p.weight, 0.0)
		}
	})
}

// TestBounds: a scenario file larger than its limit is refused having read at
// most the limit and a byte, and catchments stop once they hold more people
// than theirs, naming what to narrow.
func TestBounds(t *testing.T) {
	dir := t.TempDir()
	big := dir + "/big.json"
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(" "), 1<<20), 0o600))
	_, err := readBounded(big, 64<<10)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "larger than its limit")
	data, err := readBounded(big, 2<<20)
	require.NoError(t, err)
	require.Len(t, data, 1<<20)

	points := make([]referral.Point, 1000)
	for i := range points {
		points[i] = referral.Point{Latitude: 41.88 + float64(i%10)*0.001, Longitude: -87.63}
	}
	sites := []Site{{Name: "a", Latitude: 41.88, Longitude: -87.63, CatchmentKM: 5}, {Name: "b", Latitude: 41.88, Longitude: -87.63, CatchmentKM: 5}}
	members, err := catchments(sites, points, 2000)
	require.NoError(t, err)
	require.Len(t, members[0], 1000)
	_, err = catchments(sites, points, 1500)
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "sites", ve.Field)
	_, err = catchments([]Site{{Name: "far", Latitude: 10, Longitude: 10, CatchmentKM: 5}}, points, 2000)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "sites[0].catchment_km", ve.Field)
}
