package matching

import (
	"math"
	"math/bits"
	"slices"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// grid is the geo index, in two levels. Service locations are bucketed by their
// H3 cell at the index resolution, and the buckets are grouped by the cell
// groupLevels resolutions coarser that holds the location. Groups are found by
// the latitude/longitude tile their centre lies in: a query lists the tiles its
// spherical cap touches (four for a 10 km radius at mid latitudes), with plain
// arithmetic and a map lookup per tile, where listing an H3 grid disk costs two
// cgo calls and a lookup per cell. It then drops groups and buckets whose centre
// is too far to hold a location within the radius, or that hold no active
// location of a requested domain, before it reads a single location.
//
// Within a bucket, locations are partitioned by domain: one run of sites per
// domain that an active service located there addresses (a service with two
// domains has a site in each of their runs), then one run of the others
// (inactive services, services without a domain), which only explanations
// read. A request reads the runs of its own domains and nothing else. In
// memory, sites are laid out domain first: all of a domain's runs, in the
// geographic order of their buckets, then the next domain's, then the others.
// The runs a request reads lie in a few pages of each of its domains' regions,
// where runs kept by bucket would spread them over a page per bucket.
type grid struct {
	// tiles maps a tile (see tileOf) to the groups whose centre lies in it:
	// groups are sorted by tile.
	tiles   map[int32]tileGroups
	groups  []group
	buckets []bucket
	// runs are the runs of every bucket (see bucket).
	runs []siteRun
	// groupReach and bucketReach are the farthest any location lies from its
	// group's or bucket's centre, as central angles. They are measured, so pruning
	// assumes nothing about hexagon sizes.
	groupReach, bucketReach float64
	// sites are sorted by group, bucket, run, service and location.
	sites []site
	// timed is set when some service has opening hours: otherwise no
	// candidate's open value is above that of no schedule.
	timed bool
	// placeFrom, places and locIDs hold every location of every service, in
	// service and location order: service i's are [placeFrom[i], placeFrom[i+1]).
	// places has each one's point, with a NaN latitude for a location without
	// coordinates (every distance test then fails), so that the nearest location
	// of a service can be found without reading its record, and locIDs its id,
	// which only results read.
	placeFrom []int32
	places    []point
	locIDs    []referral.ID
	// heads are what a match shows of each service (by index) apart from its
	// location: one record, where the service's id, organization and first
	// location are three likely cache misses in arrays of their own.
	heads []head
}

// head is a service's id, organization and first location in grid.locIDs.
type head struct {
	id, org referral.ID
	places  int32
}

// tileGroups are a tile's groups: grid.groups[start:end].
type tileGroups struct{ start, end int32 }

// group is a coarse cell's buckets: grid.buckets[start:end].
type group struct {
	centre     vec
	mask       domainSet // the domains of the active services located in the group
	start, end int32
}

// bucket is a cell's sites. mask holds the domains of the active services
// located there, and each set bit, in increasing order, has a run: the k-th
// set bit's is grid.runs[b.runs+k]. The run after the last bit's holds the
// bucket's other sites.
type bucket struct {
	centre vec
	mask   domainSet
	runs   int32
}

// siteRun is a run of sites, grid.sites[start:end]. domains are those of its
// services, the second word folded onto the first (exact while the directory
// uses at most 64 domains): a request with several domains skips, without
// reading it, a run whose services address only one of them and lies beyond
// that one's cut.
type siteRun struct {
	start, end int32
	domains    uint64
}

// run returns the index in runs of b's run for domain bit d, which must be set
// in b.mask.
func (g *grid) run(b *bucket, d int) int32 {
	return b.runs + int32(b.mask.rank(d))
}

// site is a service location in the run of one of its service's domains, with
// what the explain-off path reads about its service copied in: one 64-byte
// record, read in order.
type site struct {
	p       point
	domains domainSet
	svc     int32
	loc     int32 // index in the service's locations
	profile
}

// placed is a service location while the grid is built.
type placed struct {
	lat, lon    float64
	tile        int32 // of its group's centre
	group, cell h3.Cell
	svc, loc    int32
}

// pruneSlack absorbs rounding in the centre tests (radians, about 0.6 m: far
// above the chord's rounding error, far below a bucket).
const pruneSlack = 1e-7

// newGrid indexes the locations of src, whose entries in the service table are
// svcs, at resolution res.
func newGrid(src []referral.Service, svcs []svc, res int) grid {
	g := grid{tiles: map[int32]tileGroups{}}
	g.placeFrom = make([]int32, len(src)+1)
	g.heads = make([]head, len(src))
	locations := 0
	for i := range src {
		locations += len(src[i].Locations)
	}
	g.places, g.locIDs = make([]point, 0, locations), make([]referral.ID, 0, locations)
	points := make([]placed, 0, locations)
	tiles := map[h3.Cell]int32{}
	for i := range src {
		g.placeFrom[i] = int32(len(g.places))
		g.heads[i] = head{id: src[i].ID, org: src[i].Organization, places: int32(len(g.places))}
		g.timed = g.timed || svcs[i].prof.timed()
		for j, l := range src[i].Locations {
			p := point{lat: math.NaN(), lon: math.NaN(), cosLat: math.NaN()}
			if l.Placed() {
				p = newPoint(l.Latitude, l.Longitude)
				ll := h3.NewLatLng(l.Latitude, l.Longitude)
				pl := placed{lat: l.Latitude, lon: l.Longitude, svc: int32(i), loc: int32(j),
					group: h3.LatLngToCell(ll, res-groupLevels), cell: h3.LatLngToCell(ll, res)}
				tile, ok := tiles[pl.group]
				if !ok {
					c := h3.CellToLatLng(pl.group)
					tile = tileOf(c.Lat, c.Lng)
					tiles[pl.group] = tile
				}
				pl.tile = tile
				points = append(points, pl)
			}
			g.places = append(g.places, p)
			g.locIDs = append(g.locIDs, l.ID)
		}
	}
	g.placeFrom[len(src)] = int32(len(g.places))
	slices.SortFunc(points, func(a, b placed) int {
		switch {
		case a.tile != b.tile:
			return int(a.tile - b.tile)
		case a.group != b.group:
			return cmpCell(a.group, b.group)
		case a.cell != b.cell:
			return cmpCell(a.cell, b.cell)
		case a.svc != b.svc:
			return int(a.svc - b.svc)
		}
		return int(a.loc - b.loc)
	})
	// Sites go to their domain's region: region d for domain bit d, region
	// maxDomains for the others, laid end to end. Counted first, so that the
	// sites are written once, in place.
	var fill [maxDomains + 1]int32 // region d's next site
	for _, p := range points {
		if e := &svcs[p.svc]; e.prof.status == 0 && !e.domains.empty() {
			for w, word := range e.domains {
				for ; word != 0; word &= word - 1 {
					fill[w*64+bits.TrailingZeros64(word)]++
				}
			}
		} else {
			fill[maxDomains]++
		}
	}
	total := int32(0)
	for d, n := range fill {
		fill[d] = total
		total += n
	}
	g.sites = make([]site, total)
	for start := 0; start < len(points); {
		end := start + 1
		for end < len(points) && points[end].cell == points[start].cell {
			end++
		}
		cell := points[start:end]
		if start == 0 || cell[0].group != points[start-1].group {
			g.groups = append(g.groups, group{centre: cellCentre(cell[0].group), start: int32(len(g.buckets))})
		}
		gr := &g.groups[len(g.groups)-1]
		b := bucket{centre: cellCentre(cell[0].cell), runs: int32(len(g.runs))}
		for _, p := range cell {
			if e := &svcs[p.svc]; e.prof.status == 0 {
				b.mask = b.mask.or(e.domains)
			}
		}
		for w, word := range b.mask {
			for ; word != 0; word &= word - 1 {
				d := w*64 + bits.TrailingZeros64(word)
				r := siteRun{start: fill[d]}
				for _, p := range cell {
					if e := &svcs[p.svc]; e.prof.status == 0 && e.domains.has(d) {
						g.sites[fill[d]] = newSite(p, e)
						fill[d]++
						r.domains |= e.domains[0] | e.domains[1]
					}
				}
				r.end = fill[d]
				g.runs = append(g.runs, r)
			}
		}
		other := siteRun{start: fill[maxDomains]}
		for _, p := range cell {
			if e := &svcs[p.svc]; e.prof.status != 0 || e.domains.empty() {
				g.sites[fill[maxDomains]] = newSite(p, e)
				fill[maxDomains]++
			}
		}
		other.end = fill[maxDomains]
		g.runs = append(g.runs, other)
		g.buckets = append(g.buckets, b)
		gr.end, gr.mask = int32(len(g.buckets)), gr.mask.or(b.mask)
		for _, p := range cell {
			v := unitVec(p.lat, p.lon)
			g.groupReach = max(g.groupReach, chordAngle(gr.centre.chord2(v)))
			g.bucketReach = max(g.bucketReach, chordAngle(b.centre.chord2(v)))
		}
		t := g.tiles[cell[0].tile]
		if t.end == 0 {
			t.start = int32(len(g.groups) - 1)
		}
		t.end = int32(len(g.groups))
		g.tiles[cell[0].tile] = t
		start = end
	}
	return g
}

func newSite(p placed, e *svc) site {
	return site{p: newPoint(p.lat, p.lon), domains: e.domains, svc: p.svc, loc: p.loc, profile: e.prof}
}

func cmpCell(a, b h3.Cell) int {
	if a < b {
		return -1
	}
	return 1
}

func cellCentre(c h3.Cell) vec {
	ll := h3.CellToLatLng(c)
	return unitVec(ll.Lat, ll.Lng)
}

// reachLimit is the squared chord a centre must be within to hold, at most reach
// from it, a location within m metres.
func reachLimit(m, reach float64) float64 {
	a := m/EarthRadiusM + reach + pruneSlack
	if a >= math.Pi {
		return math.Inf(1)
	}
	c := 2 * math.Sin(a/2)
	return c * c
}

// reachBound is reachLimit without the sine, which it exceeds (2·sin(a/2) ≤ a):
// a looser limit, cheap enough to recompute whenever the search's cut moves.
func reachBound(m, reach float64) float64 {
	a := m/EarthRadiusM + reach + pruneSlack
	if a >= math.Pi || math.IsNaN(a) {
		return math.Inf(1)
	}
	return a * a
}

// near appends to out the buckets that may hold a location within q.search of
// the query point, as keys that sort nearest first: the squared chord from the
// point to the bucket's centre, as float32 bits, above the bucket's index.
// Unless all is set, only buckets with an active location of a requested domain
// are listed.
func (g *grid) near(q *query, out []uint64, all bool) []uint64 {
	groupLimit := reachLimit(q.search, g.groupReach)
	bucketLimit := reachLimit(q.search, g.bucketReach)
	visit := func(gr *group) {
		if !all && gr.mask.and(q.mask).empty() || q.at.chord2(gr.centre) > groupLimit {
			return
		}
		for bi := gr.start; bi < gr.end; bi++ {
			b := &g.buckets[bi]
			if !all && b.mask.and(q.mask).empty() {
				continue
			}
			// A squared chord is not negative, so its float32 bits sort as it does.
			if c2 := q.at.chord2(b.centre); c2 <= bucketLimit {
				out = append(out, uint64(math.Float32bits(float32(c2)))<<32|uint64(bi))
			}
		}
	}
	rows, cols, ok := capTiles(q.latDeg, q.lonDeg, q.search/EarthRadiusM+g.groupReach+pruneSlack)
	if !ok || (rows[1]-rows[0]+1)*(cols[1]-cols[0]+1) > maxTiles {
		for i := range g.groups {
			visit(&g.groups[i])
		}
	} else {
		for row := rows[0]; row <= rows[1]; row++ {
			for col := cols[0]; col <= cols[1]; col++ {
				t, ok := g.tiles[row*tileCols+(col+tileCols)%tileCols]
				for i := t.start; ok && i < t.end; i++ {
					visit(&g.groups[i])
				}
			}
		}
	}
	// Sorted, buckets are read nearest first.
	slices.Sort(out)
	return out
}

// Tiles: the sphere cut every tileDeg degrees of latitude and longitude, row 0
// at the south pole, column 0 at the antimeridian. At half a degree, a tile
// holds a few groups at the default resolution.
const (
	tileDeg  = 0.5
	tileRows = 180 / tileDeg
	tileCols = 360 / tileDeg
	// maxTiles bounds the tiles a query lists; beyond it (radii of hundreds of
	// kilometres), it walks every group.
	maxTiles = 256
)

// tileOf is the tile that holds a point, in degrees.
func tileOf(latDeg, lonDeg float64) int32 {
	row := min(max(int32(math.Floor((latDeg+90)/tileDeg)), 0), tileRows-1)
	col := int32(math.Floor((lonDeg+180)/tileDeg)) % tileCols
	if col < 0 {
		col += tileCols
	}
	return row*tileCols + col
}

// capTiles returns the rows and the columns of the tiles that hold every point
// within the central angle a (radians) of a point, in degrees: columns may run
// past either end of a row, to be taken modulo tileCols. ok is false when the
// cap holds a pole or spans every longitude. The cap's extent in longitude is
// asin(sin a / cos latitude), its widest; a small margin covers rounding.
func capTiles(latDeg, lonDeg, a float64) (rows, cols [2]int32, ok bool) {
	const margin = 1e-9 // degrees
	lat := latDeg * math.Pi / 180
	if lat+a >= math.Pi/2 || lat-a <= -math.Pi/2 || a >= math.Pi/2 {
		return rows, cols, false
	}
	s := math.Sin(a) / math.Cos(lat)
	if s >= 1 {
		return rows, cols, false
	}
	dLat, dLon := a*180/math.Pi+margin, math.Asin(s)*180/math.Pi+margin
	rows[0] = max(int32(math.Floor((latDeg-dLat+90)/tileDeg)), 0)
	rows[1] = min(int32(math.Floor((latDeg+dLat+90)/tileDeg)), tileRows-1)
	cols[0] = int32(math.Floor((lonDeg - dLon + 180) / tileDeg))
	cols[1] = int32(math.Floor((lonDeg + dLon + 180) / tileDeg))
	if cols[1]-cols[0]+1 >= tileCols {
		return rows, cols, false
	}
	return rows, cols, true
}

// groupLevels is how many resolutions coarser than the buckets the groups are:
// measured best of 1, 2 and 3 on the synthetic national directory.
const groupLevels = 2
