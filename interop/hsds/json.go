package hsds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
)

// ReadJSON imports an HSDS 3.0 dataset in the JSON API shape: a list of services
// with their organization, service_at_locations (each with its location),
// service_areas, languages, schedules and attributes nested, given either as the
// paginated list GET /services returns ({"contents": [...], ...}), as a bare
// array, or as one service object. A service that cannot be decoded or mapped is
// reported in Dataset.Problems and the rest imported (see Options.Strict).
func ReadJSON(ctx context.Context, r io.Reader, opts Options) (*Dataset, error) {
	im, err := newImporter(opts)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	raws, err := splitServices(data)
	if err != nil {
		return nil, err
	}
	services := make([]*wireService, 0, len(raws))
	for i, raw := range raws {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var ws wireService
		if err := json.Unmarshal(raw, &ws); err != nil {
			im.report("service", rawID(raw), jsonProblem(err))
			continue
		}
		services = append(services, &ws)
	}
	// Organizations, locations and terms may be nested in full in one service and
	// only referenced by id in another, so file them all before mapping.
	for _, ws := range services {
		for _, a := range ws.Attributes {
			im.addTerm(a.TaxonomyTerm)
		}
		for _, sal := range ws.ServiceAtLocations {
			im.addLocation(sal.Location)
		}
	}
	for _, ws := range services {
		if ws.Organization != nil {
			im.organization(ws.Organization)
		}
	}
	for _, ws := range services {
		im.service(ws)
	}
	return im.finish(ctx)
}

// splitServices finds the service objects in a document.
func splitServices(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, referral.Invalid("json", "is empty")
	}
	switch trimmed[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, referral.Invalid("json", jsonProblem(err))
		}
		return list, nil
	case '{':
		var probe struct {
			Contents json.RawMessage `json:"contents"`
		}
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, referral.Invalid("json", jsonProblem(err))
		}
		if probe.Contents == nil {
			return []json.RawMessage{json.RawMessage(trimmed)}, nil
		}
		var list []json.RawMessage
		if err := json.Unmarshal(probe.Contents, &list); err != nil {
			return nil, referral.Invalid("contents", "must be an array of services")
		}
		return list, nil
	}
	return nil, referral.Invalid("json", "must be an array of services, a page of services or one service")
}

// rawID digs the id out of a record that did not decode, so the problem can name
// it.
func rawID(raw json.RawMessage) string {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(probe.ID, &id) != nil {
		return ""
	}
	return id
}

// jsonProblem describes a decoding error by position and field, never by value.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "is not valid JSON (syntax error at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "record"
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1e999" carries the value
		return field + " must be " + kindOf(te.Type) + ", not a JSON " + got
	}
	return "is not valid JSON"
}

func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Float64, reflect.Int:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "another type"
}

// WriteJSON exports a dataset in the HSDS 3.0 JSON API shape: one page (as GET
// /services returns it) holding every service with its organization, locations,
// areas, languages, schedules and attributes nested. IDs listed in ds.Sources are
// written as the HSDS ids they came from. The JSON shape nests organizations in
// services, so an organization without services is not written. The dataset must be valid: every service
// validates and its organization is in ds.Organizations.
func WriteJSON(ctx context.Context, w io.Writer, ds *Dataset) error {
	services, _, err := exportServices(ctx, ds)
	if err != nil {
		return err
	}
	p := page{
		TotalItems: len(services), TotalPages: 1, PageNumber: 1, Size: len(services),
		FirstPage: true, LastPage: true, Empty: len(services) == 0, Contents: services,
	}
	if p.Contents == nil {
		p.Contents = []wireService{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Eligibility rules travel as attribute values; "age >= 60" should read
	// as written, not as "age \u003e= 60".
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}
