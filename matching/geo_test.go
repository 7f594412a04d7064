package matching

import (
	"math"

	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uber/h3-go/v4"
)

func TestParentMatchesH3(t *testing.T) {
	for _, ll := range []h3.LatLng{h3.NewLatLng(37.8, -122.27), h3.NewLatLng(-33.9, 151.2), h3.NewLatLng(64.1, -21.9)} {
		for res := 0; res <= 9; res++ {
			c := h3.LatLngToCell(ll, res)
			for r := 0; r <= res; r++ {
				require.Equal(t, c.Parent(r), parent(c, r), "res %d to %d", res, r)
			}
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		aLat, aLon, bLat, bLon float64
		wantM                  float64
	}{
		{"same point", 10, 10, 10, 10, 0},
		{"one degree of latitude", 0, 0, 1, 0, 111195.08},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 111195.08},
		{"antipodes", 0, 0, 0, 180, math.Pi * EarthRadiusM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.wantM, DistanceM(tt.aLat, tt.aLon, tt.bLat, tt.bLon), 0.01)
		})
	}
}
