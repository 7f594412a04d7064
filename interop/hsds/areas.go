package hsds

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/refkit/refkit/referral"
)

// area reads an HSDS extent; the reason is empty on success.
func area(extent, extentType string) (referral.ServiceArea, string) {
	switch strings.ToLower(strings.TrimSpace(extentType)) {
	case "geojson":
		return polygonArea(extent)
	case "text", "":
		if strings.TrimSpace(extent) == "" {
			return referral.ServiceArea{}, "a free-text service area cannot be mapped: give a geojson extent or a text extent such as county:NAME"
		}
		return textArea(extent)
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

// extentFor is the extent to write for an area: the text it was read from while
// that still reads as the area, else one made from it.
func extentFor(a referral.ServiceArea) (extent, extentType string) {
	if a.Kind == "" || a.Extent != "" && sameArea(a) {
		return a.Extent, a.ExtentType
	}
	return extentOf(a)
}

// sameArea reports whether an area's extent text reads as its kind and values.
func sameArea(a referral.ServiceArea) bool {
	parsed, why := area(a.Extent, a.ExtentType)
	return why == "" && parsed.Kind == a.Kind && slices.Equal(parsed.Values, a.Values) && slices.Equal(parsed.Polygon, a.Polygon)
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
