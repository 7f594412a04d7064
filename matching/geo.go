package matching

import (
	"math"

	"github.com/uber/h3-go/v4"
)

// EarthRadiusM is the radius of the sphere distances are measured on: the IUGG mean
// Earth radius, in metres.
const EarthRadiusM = 6_371_008.8

// point is a position in radians with its latitude's cosine precomputed, so the
// haversine needs one cosine per query instead of two per candidate.
type point struct {
	lat, lon, cosLat float64
}

func newPoint(latDeg, lonDeg float64) point {
	lat := latDeg * math.Pi / 180
	return point{lat: lat, lon: lonDeg * math.Pi / 180, cosLat: math.Cos(lat)}
}

// haversine returns the haversine of the central angle between p and q: a value
// monotonic in distance, so candidates can be compared with a threshold without the
// arcsine.
func haversine(p, q point) float64 {
	sLat := math.Sin((q.lat - p.lat) / 2)
	sLon := math.Sin((q.lon - p.lon) / 2)
	// The explicit conversions forbid fusing into a multiply-add, which some
	// platforms would do at some call sites only: index and scan must agree.
	return float64(sLat*sLat) + float64(p.cosLat*q.cosLat*sLon*sLon)
}

// metres converts a haversine value to a great-circle distance.
func metres(h float64) float64 {
	if h > 1 {
		h = 1
	}
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(h))
}

// threshold is the haversine of a distance, the bound candidates are compared with.
func threshold(m float64) float64 {
	if m >= math.Pi*EarthRadiusM {
		return math.Inf(1)
	}
	s := math.Sin(m / (2 * EarthRadiusM))
	return s * s
}

// DistanceM returns the great-circle distance in metres between two points on a
// sphere of radius EarthRadiusM.
func DistanceM(aLat, aLon, bLat, bLon float64) float64 {
	return metres(haversine(newPoint(aLat, aLon), newPoint(bLat, bLon)))
}

// parent returns c's ancestor at resolution r (r ≤ c's resolution) with bit
// operations: setting the resolution field and filling the finer digits with 7.
func parent(c h3.Cell, r int) h3.Cell {
	const resShift = 52
	v := uint64(c)
	cur := int((v >> resShift) & 0xF)
	v = (v &^ (uint64(0xF) << resShift)) | uint64(r)<<resShift
	for d := r + 1; d <= cur; d++ {
		v |= uint64(7) << ((15 - d) * 3)
	}
	return h3.Cell(v)
}

// vec is a point on the unit sphere. The index prunes buckets by the chord
// between unit vectors: no trigonometry per bucket, and, unlike the cosine of the
// angle, accurate for nearby points.
type vec struct{ x, y, z float64 }

func unitVec(latDeg, lonDeg float64) vec {
	lat, lon := latDeg*math.Pi/180, lonDeg*math.Pi/180
	return vec{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
}

// chord2 is the squared chord between a and b: 4·sin²(θ/2) for central angle θ.
func (a vec) chord2(b vec) float64 {
	dx, dy, dz := a.x-b.x, a.y-b.y, a.z-b.z
	return dx*dx + dy*dy + dz*dz
}

// chordAngle converts a squared chord to the central angle, in radians.
func chordAngle(c2 float64) float64 {
	return 2 * math.Asin(min(math.Sqrt(c2)/2, 1))
}
