package simulation

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func TestReadPoints(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []placement
		field    string
	}{
		{"header and rows", "latitude,longitude,state\n41.9,-87.6,IL\n42,-88\n", []placement{{lat: 41.9, lon: -87.6, state: "IL"}, {lat: 42, lon: -88}}, ""},
		{"full rows", "41.9,-87.6,IL,Cook,60601\n", []placement{{lat: 41.9, lon: -87.6, state: "IL", county: "Cook", zip: "60601"}}, ""},
		{"empty", "", nil, "population.points_file"},
		{"header only", "lat,lon\n", nil, "population.points_file"},
		{"bad number", "41.9,-87.6\nx,1\n", nil, "population.points_file[1]"},
		{"off the globe", "41.9,-187.6\n", nil, "population.points_file[0]"},
		{"too many columns", "1,2,3,4,5,6\n", nil, "population.points_file[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPoints(bytes.NewBufferString(tc.in))
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

func FuzzReadPoints(f *testing.F) {
	f.Add("latitude,longitude\n41.9,-87.6,IL,Cook,60601\n")
	f.Add("1,2\n\"3\",4\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readPoints(bytes.NewBufferString(in))
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NotEmpty(t, got)
		for _, p := range got {
			require.NoError(t, referral.Point{Latitude: p.lat, Longitude: p.lon}.Validate())
		}
	})
}
