package hsds

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func f(v float64) *float64 { return &v }

func TestSchedule(t *testing.T) {
	tests := []struct {
		name   string
		in     wireSchedule
		want   referral.Schedule
		reason string
	}{
		{name: "weekly", in: wireSchedule{Freq: "WEEKLY", Interval: f(1), Byday: "MO, we", OpensAt: "09:00", ClosesAt: "17:00"},
			want: referral.Schedule{ByDay: []string{"MO", "WE"}, OpensAt: "09:00", ClosesAt: "17:00"}},
		{name: "no freq", in: wireSchedule{Byday: "SA", OpensAt: "10:00:00", ClosesAt: "12:00:00"},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00"}},
		{name: "timezone field", in: wireSchedule{Byday: "SA", OpensAt: "10:00", ClosesAt: "12:00", Timezone: f(-5)},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "Etc/GMT+5"}},
		{name: "positive timezone", in: wireSchedule{Byday: "SA", OpensAt: "10:00", ClosesAt: "12:00", Timezone: f(3)},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "Etc/GMT-3"}},
		{name: "zero timezone", in: wireSchedule{Byday: "SA", OpensAt: "10:00", ClosesAt: "12:00", Timezone: f(0)},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "UTC"}},
		{name: "Z suffix", in: wireSchedule{Byday: "SA", OpensAt: "10:00Z", ClosesAt: "12:00:00Z"},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "UTC"}},
		{name: "offset suffix agreeing with field", in: wireSchedule{Byday: "SA", OpensAt: "10:00-05:00", ClosesAt: "12:00-05:00", Timezone: f(-5)},
			want: referral.Schedule{ByDay: []string{"SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "Etc/GMT+5"}},
		{name: "monthly", in: wireSchedule{Freq: "MONTHLY", Byday: "1MO", OpensAt: "10:00", ClosesAt: "12:00"}, reason: "only weekly schedules are supported"},
		{name: "fortnightly", in: wireSchedule{Freq: "WEEKLY", Interval: f(2), Byday: "MO", OpensAt: "10:00", ClosesAt: "12:00"}, reason: "only an interval of 1 is supported"},
		{name: "ordinal", in: wireSchedule{Byday: "2MO", OpensAt: "10:00", ClosesAt: "12:00"}, reason: "byday must list two-letter days (MO..SU) without ordinals"},
		{name: "no days", in: wireSchedule{OpensAt: "10:00", ClosesAt: "12:00"}, reason: "byday is required"},
		{name: "no opening", in: wireSchedule{Byday: "MO", ClosesAt: "12:00"}, reason: "opens_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"},
		{name: "seconds", in: wireSchedule{Byday: "MO", OpensAt: "10:00:30", ClosesAt: "12:00"}, reason: "opens_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"},
		{name: "bad closing", in: wireSchedule{Byday: "MO", OpensAt: "10:00", ClosesAt: "noon"}, reason: "closes_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"},
		{name: "half-hour zone", in: wireSchedule{Byday: "MO", OpensAt: "10:00", ClosesAt: "12:00", Timezone: f(5.5)}, reason: "timezone must be a whole number of hours between -12 and 14"},
		{name: "half-hour offset", in: wireSchedule{Byday: "MO", OpensAt: "10:00+05:30", ClosesAt: "12:00+05:30"}, reason: "opens_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"},
		{name: "mixed offsets", in: wireSchedule{Byday: "MO", OpensAt: "10:00Z", ClosesAt: "12:00-05:00"}, reason: "opens_at and closes_at have different UTC offsets"},
		{name: "conflicting zone", in: wireSchedule{Byday: "MO", OpensAt: "10:00Z", ClosesAt: "12:00Z", Timezone: f(-5)}, reason: "timezone and the offset of opens_at differ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := schedule(tc.in)
			require.Equal(t, tc.reason, reason)
			if reason == "" {
				require.Equal(t, tc.want, got)
				require.NoError(t, got.Validate())
			}
		})
	}
}

func TestArea(t *testing.T) {
	square := `{"type":"Polygon","coordinates":[[[-97.8,30.2],[-97.6,30.2],[-97.6,30.4],[-97.8,30.2]]]}`
	tests := []struct {
		name   string
		in     wireServiceArea
		want   referral.ServiceArea
		reason string
	}{
		{name: "county", in: wireServiceArea{ExtentType: "text", Extent: "county: Travis, Hays"},
			want: referral.ServiceArea{Kind: referral.AreaCounty, Values: []string{"Travis", "Hays"}}},
		{name: "zip without type", in: wireServiceArea{Extent: "zip:78701"},
			want: referral.ServiceArea{Kind: referral.AreaZip, Values: []string{"78701"}}},
		{name: "state upper-cased", in: wireServiceArea{ExtentType: "TEXT", Extent: "State:tx"},
			want: referral.ServiceArea{Kind: referral.AreaState, Values: []string{"TX"}}},
		{name: "virtual", in: wireServiceArea{ExtentType: "text", Extent: "virtual"}, want: referral.ServiceArea{Kind: referral.AreaVirtual}},
		{name: "polygon", in: wireServiceArea{ExtentType: "geojson", Extent: square},
			want: referral.ServiceArea{Kind: referral.AreaPolygon, Polygon: []referral.Point{{Latitude: 30.2, Longitude: -97.8}, {Latitude: 30.2, Longitude: -97.6}, {Latitude: 30.4, Longitude: -97.6}}}},
		{name: "feature", in: wireServiceArea{ExtentType: "geojson", Extent: `{"type":"Feature","geometry":` + square + `}`},
			want: referral.ServiceArea{Kind: referral.AreaPolygon, Polygon: []referral.Point{{Latitude: 30.2, Longitude: -97.8}, {Latitude: 30.2, Longitude: -97.6}, {Latitude: 30.4, Longitude: -97.6}}}},
		{name: "free text", in: wireServiceArea{Name: "All of Travis County"}, reason: "a free-text service area cannot be mapped: give a geojson extent or a text extent such as county:NAME"},
		{name: "unknown kind", in: wireServiceArea{Extent: "city:Austin"}, reason: "a text extent must start with county:, zip:, state: or be virtual"},
		{name: "no values", in: wireServiceArea{Extent: "county: , "}, reason: "a county extent needs at least one value"},
		{name: "virtual with values", in: wireServiceArea{Extent: "virtual:US"}, reason: "a virtual extent takes no values"},
		{name: "kml", in: wireServiceArea{ExtentType: "kml", Extent: "<kml/>"}, reason: "extent_type must be geojson or text"},
		{name: "bad geojson", in: wireServiceArea{ExtentType: "geojson", Extent: "{"}, reason: "extent is not valid GeoJSON"},
		{name: "point", in: wireServiceArea{ExtentType: "geojson", Extent: `{"type":"Point","coordinates":[1,2]}`}, reason: "a geojson extent must be a Polygon"},
		{name: "holes", in: wireServiceArea{ExtentType: "geojson", Extent: `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]],[[0.1,0.1],[0.2,0.1],[0.2,0.2]]]}`}, reason: "polygons with holes are not supported"},
		{name: "short position", in: wireServiceArea{ExtentType: "geojson", Extent: `{"type":"Polygon","coordinates":[[[0],[1,0],[1,1]]]}`}, reason: "a geojson position needs a longitude and a latitude"},
		{name: "coordinates not rings", in: wireServiceArea{ExtentType: "geojson", Extent: `{"type":"Polygon","coordinates":[1,2]}`}, reason: "a geojson Polygon needs coordinates as rings of [longitude, latitude]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := area(tc.in)
			require.Equal(t, tc.reason, reason)
			if reason == "" {
				require.Equal(t, tc.want, got)
				extent, kind := extentOf(got)
				back, reason := area(wireServiceArea{Extent: extent, ExtentType: kind})
				require.Empty(t, reason)
				require.Equal(t, got, back, "an exported area reads back the same")
			}
		})
	}
}

func TestZoneOffset(t *testing.T) {
	tests := []struct {
		zone string
		want *float64
	}{
		{"", nil}, {"UTC", f(0)}, {"Etc/GMT+6", f(-6)}, {"Etc/GMT-3", f(3)},
		{"America/Chicago", f(-6)}, {"Australia/Sydney", f(10)}, {"Asia/Kolkata", f(5.5)}, {"Not/AZone", nil},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, zoneOffset(tc.zone), tc.zone)
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
	require.Empty(t, m.sources, "a UUIDv7 id is kept, not derived")
	require.Equal(t, a, m.of("service", "42"))
	require.Equal(t, "42", m.sources[a])
}
