package hsds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// ReadJSON imports an HSDS 3.0 or 3.1 dataset in the JSON form of the HSDS API:
// a page as GET /services, /organizations or /service_at_locations returns it
// ({"contents": [...], ...}), a bare array of such records, or one record. Each
// record is read as what it is: a service (it has a status) with its
// organization and service_at_locations nested; a service_at_location (it nests
// its service) with its location and service; or an organization with its
// services. A record that cannot be decoded or mapped is reported in
// Dataset.Problems and the rest imported (see Options.Strict).
func ReadJSON(ctx context.Context, r io.Reader, opts Options) (*Dataset, error) {
	ctx, obs := newTel(opts.TracerProvider, opts.MeterProvider).begin(ctx, formatJSON, opts.Network)
	ds, err := readJSON(ctx, r, opts)
	obs.end(ctx, ds, err)
	return ds, err
}

// readJSON is ReadJSON, unobserved.
func readJSON(ctx context.Context, r io.Reader, opts Options) (*Dataset, error) {
	im, err := newImporter(opts)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, opts.maxBytes()+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > opts.maxBytes() {
		return nil, referral.Invalid("json", "is larger than the import's MaxBytes")
	}
	raws, err := splitRecords(data)
	if err != nil {
		return nil, err
	}
	var orgs, services []object
	sites := map[string]int{} // service id → index in services, for service_at_location records
	for i, raw := range raws {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v, err := decodeValue(raw)
		o, isObject := v.(object)
		if err != nil || !isObject {
			why := "must be an object"
			if err != nil {
				why = jsonProblem(err)
			}
			im.report("service", rawID(raw), why)
			continue
		}
		switch recordKind(o) {
		case "organization":
			orgs = append(orgs, o)
			nested, _ := o["services"].([]any)
			for _, s := range nested {
				if so, ok := s.(object); ok {
					if _, has := so["organization_id"]; !has {
						so["organization_id"] = idOf(o)
					}
					services = append(services, so)
				}
			}
		case "service_at_location":
			svc := o["service"].(object)
			site := cloneObject(o)
			delete(site, "service")
			j, seen := sites[idOf(svc)]
			if !seen || idOf(svc) == "" {
				svc = cloneObject(svc)
				j = len(services)
				sites[idOf(svc)] = j
				services = append(services, svc)
			}
			list, _ := services[j]["service_at_locations"].([]any)
			services[j]["service_at_locations"] = append(list, site)
		default:
			services = append(services, o)
		}
	}
	for _, s := range services {
		if org, ok := s["organization"].(object); ok {
			orgs = append(orgs, org)
		}
	}
	// Organizations, locations and terms may be nested in full in one record
	// and only referenced by id in another, so file them all before mapping.
	for _, o := range orgs {
		unlink(o, byName["organization"])
		im.index(o, "", "organization")
	}
	for _, s := range services {
		unlink(s, byName["service"])
		im.index(s, "", "service")
	}
	for _, o := range orgs {
		im.organization(o)
	}
	for _, s := range services {
		im.service(s)
	}
	return im.finish(ctx)
}

// recordKind tells what an HSDS API record is.
func recordKind(o object) string {
	if _, ok := o["service"].(object); ok {
		return "service_at_location"
	}
	if _, ok := o["status"]; ok {
		return "service"
	}
	if _, ok := o["services"]; ok {
		return "organization"
	}
	if _, ok := o["service_at_locations"]; ok {
		return "service"
	}
	return "organization"
}

// splitRecords finds the records in a document.
func splitRecords(data []byte) ([]json.RawMessage, error) {
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
			return nil, referral.Invalid("contents", "must be an array of records")
		}
		return list, nil
	}
	return nil, referral.Invalid("json", "must be an array of records, a page of records or one record")
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

// jsonProblem describes a decoding error by position, never by value.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errTooDeep):
		return errTooDeep.Error()
	case errors.As(err, &se):
		return "is not valid JSON (syntax error at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	return "is not valid JSON"
}

// WriteJSON exports a dataset as a ServicePage (see WriteJSONAs).
func WriteJSON(ctx context.Context, w io.Writer, ds *Dataset) error {
	return WriteJSONAs(ctx, w, ds, ServicePage)
}

// WriteJSONAs exports a dataset in the HSDS version ds.Version (3.0 when empty)
// as one page of the given shape, holding every record. Each record is its
// refkit fields with what the record kept of its source merged back, so a
// dataset read from HSDS is written with every field and id it was read with
// (see the package documentation for the exceptions). The dataset must be
// valid: every record validates and every service's organization is in
// ds.Organizations.
func WriteJSONAs(ctx context.Context, w io.Writer, ds *Dataset, shape Shape) error {
	e, err := newExporter(ctx, ds)
	if err != nil {
		return err
	}
	docs, t, err := e.documents(ctx, shape)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	n := strconv.Itoa(len(docs))
	buf.WriteString(`{"total_items":` + n + `,"total_pages":1,"page_number":1,"size":` + n +
		`,"first_page":true,"last_page":true,"empty":` + strconv.FormatBool(len(docs) == 0) + `,"contents":`)
	if docs == nil {
		docs = []any{}
	}
	if err := encodeValue(&buf, docs, t, e.ver); err != nil {
		return err
	}
	buf.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
