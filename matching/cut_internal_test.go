package matching

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// The score cut is where the bound of a location's score falls strictly below
// the heap's worst: a location at or beyond it, whatever its terms, ranks
// after the worst. The analytic solution is rounded, so heapCut checks it;
// the property tests cannot reach a rounding error, so this test asks for the
// check directly, over random weights, radii, bounds and worst scores, and for
// a cut no farther than a thousandth of the radius past the exact one (a cut
// that is safe but loose only costs time, which is why it is checked too).
func TestHeapCutBoundIsBelowTheWorst(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pick := func() float64 { return []float64{0, 1e-12, 0.3, 1, 3, 7, 1e6}[r.IntN(7)] * (0.5 + r.Float64()) }
	id := referral.ID{0x01, 0x90, 0, 0, 0, 0, 0x70, 0, 0x80, 0, 0, 0, 0, 0, 0, 1}
	dir := []referral.Service{{ID: id, Organization: id, Name: "service", Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity, referral.HousingInstability},
		Locations: []referral.Location{{ID: id, Latitude: 37.8, Longitude: -122.27}}}}
	checked, tight := 0, 0
	for range 400 {
		w := Weights{Distance: pick(), Needs: pick(), Urgency: pick(), Language: pick(), Capacity: pick(), Open: pick()}
		ix, err := New(context.Background(), dir, Options{Weights: &w})
		require.NoError(t, err)
		s := ix.Snapshot()
		sc := s.scratch.Get().(*scratch)
		sc.next()
		req := Request{Near: &referral.Point{Latitude: 37.8, Longitude: -122.27}, RadiusM: 1 + r.Float64()*r.Float64()*5e5,
			Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}, {Domain: referral.HousingInstability, Urgency: referral.Routine}},
			AsOf:  time.Date(2026, time.February, 2, 12, 0, 0, 0, time.UTC)}
		if r.IntN(2) == 0 {
			req.Person.Languages = []string{"en"}
		}
		q, err := s.prepare(req, sc)
		require.NoError(t, err)
		for range 50 {
			b := s.boundFor(q, 1+r.IntN(2), r.IntN(3))
			// Worst scores across the bound's range, some on its ends.
			worst := b.atRadius + (b.atZero-b.atRadius)*[]float64{0, 1, r.Float64(), r.Float64(), 1.1, -0.1}[r.IntN(6)]
			sc.cands = append(sc.cands[:0], candidate{rankKey: rankKey{score: worst, loc: 0}})
			top := topK{cands: &sc.cands, heap: []int32{0}, limit: 1}
			d := s.heapCut(q, &top, &b)
			switch {
			case b.atZero < worst:
				require.Equal(t, -1.0, d, "nothing ranks: every distance is cut")
			case !(b.atRadius < worst) || w.Distance == 0:
				require.True(t, math.IsInf(d, 1), "the bound never falls below the worst within the radius")
			default:
				checked++
				require.Less(t, b.at(q, s.opts.Weights, d), worst, "the bound at the cut is below the worst")
				if w.Distance > 1e-6*b.atZero {
					// Otherwise the distance term is lost in the rounding of
					// the sum, and the cut rightly stays at the radius.
					tight++
					exact := q.radius * (1 - (worst-b.atRadius)/w.Distance)
					require.LessOrEqual(t, d, max(exact, 0)+1e-3*q.radius, "the cut is tight: %+v worst %v bound %+v radius %v", w, worst, b, q.radius)
				}
			}
		}
		sc.release()
		s.scratch.Put(sc)
	}
	require.Greater(t, checked, 1000)
	require.Greater(t, tight, 500)
}

// A location whose haversine is above cutHaversine(d) lies at or beyond d, as
// metres measures it: the walk drops it without its distance. The haversines
// tried are those just above each threshold, where rounding decides.
func TestCutHaversineKeepsWhatLiesNearer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	require.Equal(t, -1.0, cutHaversine(-1))
	require.True(t, math.IsInf(cutHaversine(math.Inf(1)), 1))
	for range 200_000 {
		d := math.Exp(r.Float64()*math.Log(2e7/1e-3)) * 1e-3 // metres, log-uniform from 1 mm
		if r.IntN(2) == 0 {
			d = metres(r.Float64() * r.Float64() * 1e-3) // a distance the index computes
		}
		h := cutHaversine(d)
		for range 4 {
			h = math.Nextafter(h, 2)
			require.GreaterOrEqual(t, metres(h), d, "d %v: a dropped location is nearer than the cut", d)
		}
	}
}
