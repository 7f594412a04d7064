package matching

import (
	"math"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// Confidential locations (referral.Location.Confidential, a
// domestic-violence shelter, say) are indexed and filtered at their exact
// point like any other: the radius test uses the exact distance. What a
// request's viewer is shown depends on who they are. One the location's
// organization discloses to sees the exact distance; anyone else sees the
// location's vicinity (an H3 cell) and the distance rounded to whole
// kilometres, and that rounded distance is the one ranked and scored, so
// neither the score, its breakdown, the order nor a reason tells the exact
// distance. A snapshot without confidential locations skips all of it with one
// nil test per candidate.

// VicinityResolution is the H3 resolution of the cell a match shows in place
// of a confidential location: hexagons of about 36 km².
const VicinityResolution = 6

// ConcealedRoundingM is what the distance to a confidential location is
// rounded to, for a viewer who may not see it exactly; it is never shown
// below this.
const ConcealedRoundingM = 1000

// keepSecret records the vicinities of sv's confidential locations, when it
// has any.
func (s *Snapshot) keepSecret(i int32, sv *referral.Service) {
	var cells []string
	for j, l := range sv.Locations {
		if !l.Confidential || !l.Placed() {
			continue
		}
		if cells == nil {
			cells = make([]string, len(sv.Locations))
		}
		cells[j] = h3.LatLngToCell(h3.NewLatLng(l.Latitude, l.Longitude), VicinityResolution).String()
	}
	if cells == nil {
		return
	}
	if s.secret == nil {
		s.secret = map[int32][]string{}
	}
	s.secret[i] = cells
}

// vicinity returns the vicinity of a point candidate's location when the
// request's viewer may not see it exactly, else "".
func (s *Snapshot) vicinity(q *query, c *candidate) string {
	if s.secret == nil || c.loc < 0 {
		return ""
	}
	cells, ok := s.secret[c.svc]
	if !ok || cells[c.loc] == "" || s.discloses(q.req.Viewer, c.svc) {
		return ""
	}
	return cells[c.loc]
}

// shownDistance is the distance of a point candidate as the request's viewer
// is shown, ranked and scored by: exact, or rounded for a confidential
// location they may not see exactly.
func (s *Snapshot) shownDistance(q *query, c *candidate) float64 {
	return s.shown(q, c.svc, c.loc, c.h)
}

// shown is shownDistance of service svc's location loc, at haversine h.
func (s *Snapshot) shown(q *query, svc, loc int32, h float64) float64 {
	d := metres(h)
	if s.secret == nil {
		return d
	}
	if s.vicinity(q, &candidate{rankKey: rankKey{svc: svc, loc: loc}}) == "" {
		return d
	}
	return math.Max(ConcealedRoundingM, math.Round(d/ConcealedRoundingM)*ConcealedRoundingM)
}

// discloses reports whether viewer may see the exact place of service svc's
// confidential locations.
func (s *Snapshot) discloses(viewer *referral.Actor, svc int32) bool {
	if viewer == nil || viewer.Network.IsZero() || viewer.Network != s.source[svc].Network {
		return false
	}
	org := s.orgs[svc]
	if s.opts.Disclose != nil {
		return s.opts.Disclose(*viewer, org)
	}
	return referral.Organization{ID: org, Network: viewer.Network}.Discloses(viewer)
}
