package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// The OpenAPI document is generated from the route table and the Go types of
// the bodies, by reflection over their JSON encoding, so a field added to a
// record appears in the document with no second edit.

// idPattern is what an id encodes as: a UUID, or "" for an absent optional
// reference.
const idPattern = `^$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`

// Types whose JSON is not what their Go shape says (they marshal
// themselves, or are time values).
var (
	typeID       = reflect.TypeFor[referral.ID]()
	typeDate     = reflect.TypeFor[referral.Date]()
	typeTime     = reflect.TypeFor[time.Time]()
	typeDuration = reflect.TypeFor[time.Duration]()
	typeScore    = reflect.TypeFor[screening.Score]()
	typeRaw      = reflect.TypeFor[json.RawMessage]()
)

// schemas builds the components of a document.
type schemas struct {
	components map[string]any
	names      map[reflect.Type]string
}

// ref returns the schema of t, adding named struct types to the components.
func (s *schemas) of(t reflect.Type) map[string]any {
	switch t {
	case typeID:
		return map[string]any{"type": "string", "pattern": idPattern}
	case typeDate:
		return map[string]any{"type": "string", "format": "date"}
	case typeTime:
		return map[string]any{"type": "string", "format": "date-time"}
	case typeDuration:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case typeScore:
		return map[string]any{"type": []any{"integer", "null"}}
	case typeRaw:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(s.of(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		// A nil slice encodes as null.
		return nullable(map[string]any{"type": "array", "items": s.of(t.Elem())})
	case reflect.Array:
		return map[string]any{"type": "array", "items": s.of(t.Elem())}
	case reflect.Map:
		return nullable(map[string]any{"type": "object", "additionalProperties": s.of(t.Elem())})
	case reflect.Struct:
		if t.Name() == "" {
			return s.object(t)
		}
		name, ok := s.names[t]
		if !ok {
			name = s.name(t)
			s.names[t] = name
			s.components[name] = map[string]any{} // placeholder: a recursive type refers to itself
			s.components[name] = s.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// name picks a component name: the type's name, prefixed with its package's
// when another type already has it.
func (s *schemas) name(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	name = strings.ToUpper(name[:1]) + name[1:]
	if _, taken := s.components[name]; !taken {
		return name
	}
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

// object is the schema of a struct's JSON object: its fields by their JSON
// names, embedded structs' fields flattened, required unless omitempty or
// omitzero.
func (s *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = s.of(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// nullable lets a schema be null too.
func nullable(schema map[string]any) map[string]any {
	if ty, ok := schema["type"].(string); ok {
		schema["type"] = []any{ty, "null"}
		return schema
	}
	return map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
}

// pathParams are the {name}s of a pattern.
var pathParams = regexp.MustCompile(`\{([a-z_]+)\}`)

// document renders the OpenAPI 3.1 document of routes.
func document(routes []*Route) ([]byte, error) {
	s := &schemas{components: map[string]any{}, names: map[reflect.Type]string{}}
	problem := s.of(reflect.TypeFor[Problem]())
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"operationId": rt.OperationID,
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
		}
		if rt.Public {
			op["security"] = []any{}
		}
		if len(rt.Roles) > 0 {
			roles := make([]string, len(rt.Roles))
			for i, r := range rt.Roles {
				roles[i] = string(r)
			}
			op["x-refkit-roles"] = roles
		}
		var params []any
		for _, m := range pathParams.FindAllStringSubmatch(rt.Pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": paramSchema("uuid")})
		}
		for _, p := range rt.Query {
			params = append(params, map[string]any{"name": p.Name, "in": "query", "required": p.Required, "description": p.Description, "schema": paramSchema(p.Kind)})
		}
		for _, p := range rt.Headers {
			params = append(params, map[string]any{"name": p.Name, "in": "header", "required": p.Required, "description": p.Description, "schema": paramSchema(p.Kind)})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != nil {
			media := "application/json"
			if strings.HasPrefix(rt.Pattern, "/fhir/") {
				media = mediaFHIR
			}
			op["requestBody"] = map[string]any{
				"required": !rt.BodyOptional,
				"content":  map[string]any{media: map[string]any{"schema": s.of(reflect.TypeOf(rt.Body))}},
			}
		}
		responses := map[string]any{}
		for _, resp := range rt.Responses {
			r := map[string]any{"description": resp.Description}
			if resp.Body != nil || resp.Media != "" {
				media := resp.Media
				if media == "" {
					media = "application/json"
				}
				var schema map[string]any
				if resp.Body != nil {
					schema = s.of(reflect.TypeOf(resp.Body))
				} else {
					schema = map[string]any{"type": "string"}
				}
				r["content"] = map[string]any{media: map[string]any{"schema": schema}}
			}
			if len(resp.Headers) > 0 {
				hs := map[string]any{}
				for _, name := range resp.Headers {
					hs[name] = map[string]any{"schema": map[string]any{"type": "string"}}
				}
				r["headers"] = hs
			}
			responses[strconv.Itoa(resp.Status)] = r
		}
		responses["default"] = map[string]any{
			"description": "a problem (RFC 9457); its type is one of " + problemTypeList(),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problem}},
		}
		op["responses"] = responses
		if paths[rt.Pattern] == nil {
			paths[rt.Pattern] = map[string]any{}
		}
		paths[rt.Pattern][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "refkit",
			"version": "1",
			"description": "The refkit HTTP API: closed-loop referrals for health and social care. Every route but " +
				"the operations ones takes an OIDC bearer token; the caller's network, organization and role come from it.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": s.components,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// paramSchema is the schema of a parameter of kind.
func paramSchema(kind string) map[string]any {
	switch kind {
	case "integer":
		return map[string]any{"type": "integer"}
	case "uuid":
		return map[string]any{"type": "string", "format": "uuid"}
	case "date-time":
		return map[string]any{"type": "string", "format": "date-time"}
	}
	return map[string]any{"type": "string"}
}

// problemTypeList names every problem type, for the document.
func problemTypeList() string {
	names := make([]string, len(problemKinds))
	for i, k := range problemKinds {
		names[i] = ProblemType + k.slug + " (" + strconv.Itoa(k.status) + " " + http.StatusText(k.status) + ")"
	}
	return strings.Join(names, ", ")
}
