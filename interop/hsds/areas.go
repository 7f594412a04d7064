package hsds

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
)

// area maps an HSDS service area; the reason is empty on success.
func area(w wireServiceArea) (referral.ServiceArea, string) {
	switch strings.ToLower(strings.TrimSpace(w.ExtentType)) {
	case "geojson":
		return polygonArea(w.Extent)
	case "text", "":
		if strings.TrimSpace(w.Extent) == "" {
			return referral.ServiceArea{}, "a free-text service area cannot be mapped: give a geojson extent or a text extent such as county:NAME"
		}
		return textArea(w.Extent)
	default:
		return referral.ServiceArea{}, "extent_type must be geojson or text"
	}
}

// textArea reads refkit's text extent: "county:A,B", "zip:…", "state:…", "virtual".
func textArea(extent string) (referral.ServiceArea, string) {
	kind, values, _ := strings.Cut(strings.TrimSpace(extent), ":")
	a := referral.ServiceArea{Kind: referral.AreaKind(strings.ToLower(strings.TrimSpace(kind)))}
	switch a.Kind {
	case referral.AreaVirtual:
		if strings.TrimSpace(values) != "" {
			return a, "a virtual extent takes no values"
		}
		return a, ""
	case referral.AreaCounty, referral.AreaZip, referral.AreaState:
	default:
		return a, "a text extent must start with county:, zip:, state: or be virtual"
	}
	for _, v := range strings.Split(values, ",") {
		if v = strings.TrimSpace(v); v != "" {
			if a.Kind == referral.AreaState {
				v = strings.ToUpper(v)
			}
			a.Values = append(a.Values, v)
		}
	}
	if len(a.Values) == 0 {
		return a, "a " + string(a.Kind) + " extent needs at least one value"
	}
	return a, ""
}

type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
	Geometry    *geometry       `json:"geometry"`
}

// polygonArea reads a GeoJSON Polygon, bare or as a Feature's geometry.
func polygonArea(extent string) (referral.ServiceArea, string) {
	var g geometry
	if err := json.Unmarshal([]byte(extent), &g); err != nil {
		return referral.ServiceArea{}, "extent is not valid GeoJSON"
	}
	if g.Type == "Feature" && g.Geometry != nil {
		g = *g.Geometry
	}
	if g.Type != "Polygon" {
		return referral.ServiceArea{}, "a geojson extent must be a Polygon"
	}
	var rings [][][]float64
	if err := json.Unmarshal(g.Coordinates, &rings); err != nil || len(rings) == 0 {
		return referral.ServiceArea{}, "a geojson Polygon needs coordinates as rings of [longitude, latitude]"
	}
	if len(rings) > 1 {
		return referral.ServiceArea{}, "polygons with holes are not supported"
	}
	ring := rings[0]
	a := referral.ServiceArea{Kind: referral.AreaPolygon}
	for _, p := range ring {
		if len(p) < 2 {
			return referral.ServiceArea{}, "a geojson position needs a longitude and a latitude"
		}
		a.Polygon = append(a.Polygon, referral.Point{Latitude: p[1], Longitude: p[0]})
	}
	if n := len(a.Polygon); n > 1 && a.Polygon[0] == a.Polygon[n-1] {
		a.Polygon = a.Polygon[:n-1]
	}
	return a, ""
}

// extentOf writes a service area as an HSDS extent and extent type.
func extentOf(a referral.ServiceArea) (extent, extentType string) {
	switch a.Kind {
	case referral.AreaPolygon:
		ring := make([][2]float64, 0, len(a.Polygon)+1)
		for _, p := range a.Polygon {
			ring = append(ring, [2]float64{p.Longitude, p.Latitude})
		}
		ring = append(ring, ring[0])
		b, _ := json.Marshal(struct {
			Type        string         `json:"type"`
			Coordinates [][][2]float64 `json:"coordinates"`
		}{"Polygon", [][][2]float64{ring}})
		return string(b), "geojson"
	case referral.AreaVirtual:
		return "virtual", "text"
	}
	return string(a.Kind) + ":" + strings.Join(a.Values, ","), "text"
}

// areaName is the human-readable name written beside an extent.
func areaName(a referral.ServiceArea) string {
	switch a.Kind {
	case referral.AreaCounty:
		return strings.Join(a.Values, ", ") + " " + plural(len(a.Values), "County", "Counties")
	case referral.AreaZip:
		return "ZIP " + plural(len(a.Values), "code", "codes") + " " + strings.Join(a.Values, ", ")
	case referral.AreaState:
		return strings.Join(a.Values, ", ")
	case referral.AreaVirtual:
		return "Anywhere (phone or online)"
	}
	return "Polygon"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var byDay = map[string]bool{"MO": true, "TU": true, "WE": true, "TH": true, "FR": true, "SA": true, "SU": true}

// schedule maps a weekly HSDS schedule to open hours; the reason is empty on
// success.
func schedule(w wireSchedule) (referral.Schedule, string) {
	var sc referral.Schedule
	if f := strings.ToUpper(strings.TrimSpace(w.Freq)); f != "" && f != "WEEKLY" {
		return sc, "only weekly schedules are supported"
	}
	if w.Interval != nil && *w.Interval != 1 {
		return sc, "only an interval of 1 is supported"
	}
	for _, d := range strings.Split(w.Byday, ",") {
		d = strings.ToUpper(strings.TrimSpace(d))
		if d == "" {
			continue
		}
		if !byDay[d] {
			return sc, "byday must list two-letter days (MO..SU) without ordinals"
		}
		sc.ByDay = append(sc.ByDay, d)
	}
	if len(sc.ByDay) == 0 {
		return sc, "byday is required"
	}
	var openZone, closeZone string
	var ok bool
	if sc.OpensAt, openZone, ok = clock(w.OpensAt); !ok {
		return sc, "opens_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"
	}
	if sc.ClosesAt, closeZone, ok = clock(w.ClosesAt); !ok {
		return sc, "closes_at must be HH:MM, optionally with seconds and a Z or ±HH:MM offset"
	}
	if openZone != closeZone {
		return sc, "opens_at and closes_at have different UTC offsets"
	}
	sc.Timezone = openZone
	if w.Timezone != nil {
		zone, ok := offsetZone(*w.Timezone * 60)
		if !ok {
			return sc, "timezone must be a whole number of hours between -12 and 14"
		}
		if openZone != "" && openZone != zone {
			return sc, "timezone and the offset of opens_at differ"
		}
		sc.Timezone = zone
	}
	return sc, ""
}

// clock parses "HH:MM", "HH:MM:SS" (seconds must be zero), each optionally
// followed by "Z" or an offset "±HH:MM"; zone is the fixed IANA zone of the
// offset, "" when none is given.
func clock(s string) (hhmm, zone string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) < 5 || s[2] != ':' {
		return "", "", false
	}
	hhmm, rest := s[:5], s[5:]
	if strings.HasPrefix(rest, ":") {
		if len(rest) < 3 || rest[1:3] != "00" {
			return "", "", false
		}
		rest = rest[3:]
	}
	switch {
	case rest == "":
	case rest == "Z":
		zone = "UTC"
	case (rest[0] == '+' || rest[0] == '-') && len(rest) == 6 && rest[3] == ':':
		h, err1 := strconv.Atoi(rest[1:3])
		m, err2 := strconv.Atoi(rest[4:6])
		if err1 != nil || err2 != nil {
			return "", "", false
		}
		minutes := float64(h*60 + m)
		if rest[0] == '-' {
			minutes = -minutes
		}
		if zone, ok = offsetZone(minutes); !ok {
			return "", "", false
		}
	default:
		return "", "", false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if hhmm[i] < '0' || hhmm[i] > '9' {
			return "", "", false
		}
	}
	return hhmm, zone, true
}

// offsetZone names the fixed IANA zone of a whole-hour UTC offset in minutes.
// POSIX inverts the sign: UTC-5 is Etc/GMT+5.
func offsetZone(minutes float64) (string, bool) {
	if math.IsNaN(minutes) || minutes < -12*60 || minutes > 14*60 || minutes != math.Trunc(minutes) || int(minutes)%60 != 0 {
		return "", false
	}
	h := int(minutes) / 60
	switch {
	case h == 0:
		return "UTC", true
	case h > 0:
		return "Etc/GMT-" + strconv.Itoa(h), true
	}
	return "Etc/GMT+" + strconv.Itoa(-h), true
}
