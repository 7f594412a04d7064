package adversarial

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/storage/memory"
)

// entryPoint is one place refkit takes JSON from outside.
type entryPoint struct {
	name string
	tmpl Template
	// limit is the document size the entry point states it refuses beyond,
	// unread; 0 for records, which the host decodes itself (refkit validates
	// the values it gets).
	limit int
	// run feeds one document and returns the entry point's error.
	run func(data []byte) error
	// prepare, if set, adapts a document before it is fed, outside the
	// measurement (a fresh referral for each update, say).
	prepare func(data []byte) []byte
	// fills are the entry point's arrays of structs, each filled with small
	// elements up to the limit: the documents whose decoding costs most per
	// byte.
	fills []fill
}

// fill is an array filled to the limit: prefix, copies of elem, suffix.
type fill struct{ name, prefix, elem, suffix string }

// allocated returns the bytes f allocated (process-wide: generous bounds
// absorb the runtime's own).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// guarded runs f, turning a panic into a test failure rather than a crash of
// the whole suite.
func guarded(t *testing.T, f func() error) (err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panic: %v", p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// bigDecoderCase are the large values only a decoder sees: for the records a
// host decodes itself, they (and any large value in a number slot, and a
// document padded past every cap, which a record has none of) test
// encoding/json and the host's reader, not refkit.
var bigDecoderCase = map[string]bool{
	"deep-array": true, "deep-object": true, "long-array": true, "wide-object": true,
	"long-number": true, "long-fraction": true,
}

// The bounds on cost. A document within its entry point's limit may
// allocate costFloor (a bounded number of structs: the limits on depth,
// values, array elements and object members see to it) plus perByte per
// byte (its strings and numbers, copied a few times); one beyond the limit,
// unreadBound, since it is refused unread.
const (
	costFloor   = 8 << 20
	perByte     = 8
	unreadBound = 64 << 10
)

// check runs one case and holds the entry point to its contract: no panic,
// ErrInvalid unless the case is one the entry point rightly accepts, and a
// bounded cost.
func (ep entryPoint) check(t *testing.T, c Case) {
	t.Helper()
	if ep.prepare != nil {
		c.Data = ep.prepare(c.Data)
	}
	var err error
	cost := allocated(func() { err = guarded(t, func() error { return ep.run(c.Data) }) })
	if c.Accepted == "" {
		if !errors.Is(err, referral.ErrInvalid) {
			t.Errorf("%s: %s: want an error wrapping ErrInvalid, got %v", ep.name, c.Name, err)
		}
	} else if err != nil && !errors.Is(err, referral.ErrInvalid) {
		t.Errorf("%s: %s (acceptable: %s): a refusal must still wrap ErrInvalid, got %v", ep.name, c.Name, c.Accepted, err)
	}
	if err != nil && len(err.Error()) > 1024 {
		t.Errorf("%s: %s: an error of %d bytes quotes the input", ep.name, c.Name, len(err.Error()))
	}
	bound := uint64(costFloor) + perByte*uint64(len(c.Data))
	if ep.limit > 0 && len(c.Data) > ep.limit {
		bound = unreadBound
	}
	if cost > bound {
		t.Errorf("%s: %s: %d input bytes cost %d bytes allocated, above the bound %d", ep.name, c.Name, len(c.Data), cost, bound)
	}
}

// TestHostileJSON feeds the corpus to every entry point that reads JSON from
// outside refkit: each hostile value in every slot of a document it accepts,
// and every mutation of that document. Each must be refused with ErrInvalid,
// allocating within its bound, and never panic or hang.
func TestHostileJSON(t *testing.T) {
	for _, ep := range entryPoints(t) {
		t.Run(ep.name, func(t *testing.T) {
			valid := ep.tmpl.Valid()
			if ep.prepare != nil {
				valid = ep.prepare(valid)
			}
			require.NoError(t, guarded(t, func() error { return ep.run(valid) }), "the template is a document the entry point accepts")
			for _, c := range ep.tmpl.Cases() {
				if ep.limit == 0 && (c.Name == "padded-past-caps" || c.Big && (c.Kind != String || bigDecoderCase[c.Value])) {
					continue // how encoding/json reads it is the host's decoder's business
				}
				ep.check(t, c)
			}
			if ep.limit == 0 {
				return // the host decodes records: its reader is its limit
			}
			// Filled to the limit, the values limit refuses them; smaller, some
			// pass it and are decoded. Either way the cost stays in bounds.
			for _, f := range ep.fills {
				for size := ep.limit - 16; size > ep.limit>>10; size >>= 2 {
					ep.check(t, Case{
						Name: fmt.Sprintf("filled/%s/%d", f.name, size), Data: Filled(f.prefix, f.elem, f.suffix, size),
						Accepted: "a document of this shape may be valid or not; what it costs is the point",
					})
				}
			}
			// 100 MiB in the first string slot: refused unread.
			for _, s := range ep.tmpl.Slots {
				if s.Kind != String {
					continue
				}
				prefix, suffix := ep.tmpl.Split(s.Name)
				WithHugeString(prefix, suffix, func(doc []byte) {
					ep.check(t, Case{Name: s.Name + "/huge-string", Data: doc})
				})
				break
			}
		})
	}
}

func entryPoints(t *testing.T) []entryPoint {
	prapare, err := screening.Default().Lookup("prapare")
	require.NoError(t, err)
	w := newWorld(t, memory.New(), worldOptions{})
	sent, err := w.engine.Create(w.ctx, w.staff(w.sender), w.request(true))
	require.NoError(t, err)
	receiver := w.staff(w.receiver)
	index, err := matching.New(w.ctx, []referral.Service{{
		ID: w.service, Network: w.network, Organization: w.receiver, Name: "Pantry", Status: referral.ServiceActive,
		Domains:     []referral.Domain{referral.FoodInsecurity},
		Eligibility: `household_size >= 1 && attributes["k"] != "no"`,
		Locations:   []referral.Location{{ID: w.location, Latitude: 39.96, Longitude: -82.99}},
	}}, matching.Options{Now: w.clock.Now})
	require.NoError(t, err)

	str := func(name, valid string, accept ...string) Slot {
		s := Slot{Name: name, Kind: String, Valid: valid}
		if len(accept) > 0 {
			s.Accept = map[string]string{}
			for i := 0; i+1 < len(accept); i += 2 {
				s.Accept[accept[i]] = accept[i+1]
			}
		}
		return s
	}
	num := func(name, valid string) Slot { return Slot{Name: name, Kind: Number, Valid: valid} }
	integer := func(name, valid string) Slot { return Slot{Name: name, Kind: Integer, Valid: valid} }
	ids := func(doc string) string {
		return strings.NewReplacer(
			"NETWORK", w.network.String(), "PERSON", w.person.String(), "SENDER", w.sender.String(),
			"RECEIVER", w.receiver.String(), "REFERRAL", sent.ID.String(), "SERVICE", w.service.String(),
			"LOCATION", w.location.String(), "ID1", w.ids.MustNew().String(),
		).Replace(doc)
	}
	// Records are decoded by the host (encoding/json here); refkit's part is
	// that Validate refuses whatever hostile value the decoder lets through.
	record := func(v interface{ Validate() error }) func([]byte) error {
		return func(data []byte) error {
			if err := json.Unmarshal(data, v); err != nil {
				var ve *referral.ValidationError
				if errors.As(err, &ve) {
					return err
				}
				return referral.Invalid("json", "is not a well-formed document")
			}
			return v.Validate()
		}
	}
	hostDecoder := map[string]string{
		"duplicate-key":            "the host's decoder (encoding/json) keeps the last member; Validate sees one value",
		"duplicate-key-other-case": "the host's decoder matches field names in any case and keeps the last",
	}

	return []entryPoint{
		{
			name: "screening.ParseAnswers", limit: screeningLimit,
			tmpl: Template{
				Doc: `{"answers":{"56799-0":@address@,"63512-8":@household@,"93030-5":@transport@}}`,
				Slots: []Slot{
					str("address", `"12 Elm Street"`),
					integer("household", "3"),
					str("transport", `"LA30133-5"`),
				},
			},
			fills: []fill{{"answers", `{"answers":{`, `"56799-0":null`, `}}`}, {"values", `{"answers":{"93030-5":[`, `"LA30133-5"`, `]}}`}},
			run:   func(data []byte) error { _, err := screening.ParseAnswers(prapare, data); return err },
		},
		{
			name: "screening.ParseQuestionnaireResponse", limit: screeningLimit,
			tmpl: Template{
				Doc: `{"resourceType":"QuestionnaireResponse","status":"completed","item":[` +
					`{"linkId":@link@,"answer":[{"valueString":@address@}]},` +
					`{"linkId":"63512-8","answer":[{"valueInteger":@household@}]},` +
					`{"linkId":"/93030-5","answer":[{"valueCoding":{"system":"http://loinc.org","code":@code@}}]}]}`,
				Slots: []Slot{
					str("link", `"56799-0"`), str("address", `"12 Elm Street"`),
					integer("household", "3"), str("code", `"LA30133-5"`),
				},
			},
			fills: []fill{
				{"items", `{"resourceType":"QuestionnaireResponse","item":[`, `{}`, `]}`},
				{"answers", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"93030-5","answer":[`, `{}`, `]}]}`},
				{"groups", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"g","item":[`, `{"item":[]}`, `]}]}`},
			},
			run: func(data []byte) error { _, err := screening.ParseQuestionnaireResponse(prapare, data); return err },
		},
		{
			name: "screening.Parse", limit: screeningLimit,
			tmpl: Template{
				Doc: `{"id":@id@,"version":"1","title":@title@,"items":[{"id":"q1","key":"q1","text":@text@,` +
					`"options":[{"code":"a","display":"Yes","value":@value@},{"code":"b","display":"No","value":0}]}],` +
					`"rules":[{"id":"r1","domain":"food-insecurity","urgency":"routine","expr":@expr@}]}`,
				Slots: []Slot{
					str("id", `"my-screen"`), str("title", `"My screen"`), str("text", `"Hungry?"`),
					integer("value", "1"), str("expr", `"item(\"q1\") >= 1"`),
				},
			},
			fills: []fill{
				{"items", `{"id":"x","version":"1","title":"X","items":[`, `{}`, `]}`},
				{"options", `{"id":"x","version":"1","title":"X","items":[{"id":"q","key":"q","text":"Q","options":[`, `{}`, `]}]}`},
				{"rules", `{"id":"x","version":"1","title":"X","items":[],"rules":[`, `{"answers":[]}`, `]}`},
			},
			run: func(data []byte) error { _, err := screening.Parse("hostile.json", data); return err },
		},
		{
			name: "fhir.ParseTask", limit: fhirLimit,
			tmpl: Template{
				Doc: ids(`{"resourceType":"Task","id":@id@,"meta":{"versionId":@version@},"status":@status@,"intent":"order",` +
					`"focus":{"reference":@focus@}}`),
				Slots: []Slot{
					str("id", ids(`"REFERRAL"`)), str("version", `"1"`), str("status", `"accepted"`),
					str("focus", ids(`"ServiceRequest/REFERRAL"`)),
				},
			},
			fills: []fill{
				{"outputs", `{"resourceType":"Task","output":[`, `{}`, `]}`},
				{"codings", `{"resourceType":"Task","statusReason":{"coding":[`, `{}`, `]}}`},
			},
			run: func(data []byte) error { _, err := fhir.ParseTask(data); return err },
		},
		{
			name: "fhir.Exchange.Apply", limit: fhirLimit,
			tmpl: Template{
				Doc: ids(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Task","id":@id@,` +
					`"meta":{"versionId":@version@},"status":"accepted","intent":"order",` +
					`"focus":{"reference":"ServiceRequest/REFERRAL"},"for":{"reference":@for@},` +
					`"owner":{"reference":"Organization/RECEIVER"},"statusReason":{"text":@text@}}}]}`),
				Slots: []Slot{
					str("id", ids(`"REFERRAL"`)), str("version", `"1"`), str("for", ids(`"Patient/PERSON"`)),
					str("text", `"Seen today"`),
				},
			},
			// The template accepts the referral, so each case gets a fresh one.
			prepare: func(data []byte) []byte {
				fresh, err := w.engine.Create(w.ctx, w.staff(w.sender), w.request(true))
				require.NoError(t, err)
				return bytes.ReplaceAll(data, []byte(sent.ID.String()), []byte(fresh.ID.String()))
			},
			run: func(data []byte) error { _, err := w.fhir.Apply(w.ctx, receiver, data); return err },
		},
		{
			name: "fhir.ParseBundle", limit: fhirLimit,
			tmpl: Template{
				Doc: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":@url@,` +
					`"resource":{"resourceType":"Patient","id":"p1","name":[{"family":@family@}],"birthDate":@birth@}}]}`,
				Slots: []Slot{
					str("url", `"urn:uuid:p1"`, bundleText...), str("family", `"Doe"`, bundleText...),
					str("birth", `"1980-02-29"`, bundleText...),
				},
			},
			fills: []fill{
				{"entries", `{"resourceType":"Bundle","entry":[`, `{"resource":{"resourceType":"Patient"}}`, `]}`},
				{"raw entries", `{"resourceType":"Bundle","entry":[`, `{"resource":{"resourceType":"Other","a":[]}}`, `]}`},
				{"codings", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","code":{"coding":[`, `{}`, `]}}}]}`},
			},
			run: func(data []byte) error { _, err := fhir.ParseBundle(data); return err },
		},
		{
			name: "matching.Request",
			tmpl: Template{
				Doc: `{"person":{"household_size":@household@,"income_annual":@income@,"zip":@zip@,"attributes":{"k":@attribute@},` +
					`"languages":[@language@]},"needs":[{"domain":@domain@,"urgency":"routine"}],` +
					`"near":{"latitude":@lat@,"longitude":-83.0},"radius_m":@radius@}`,
				Slots: []Slot{
					integer("household", "3"), num("income", "28000.5"), str("zip", `"43215"`), str("attribute", `"yes"`),
					str("language", `"es"`), str("domain", `"food-insecurity"`), num("lat", "39.96"), num("radius", "5000"),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error {
				var req matching.Request
				if err := json.Unmarshal(data, &req); err != nil {
					return referral.Invalid("json", "is not a well-formed document")
				}
				_, err := index.Match(context.Background(), req)
				return err
			},
		},
		{
			name: "referral.Person",
			tmpl: Template{
				Doc: ids(`{"id":"PERSON","network_id":"NETWORK","given_name":@given@,"family_name":"Doe","birth_date":@birth@,` +
					`"household_size":@household@,"income_annual":@income@,"languages":[@language@],` +
					`"location":{"latitude":@lat@,"longitude":-82.99},"zip":@zip@,"county":"Franklin","state":@state@,` +
					`"insurance":"medicaid","veteran":true,"attributes":{"tribe":@attribute@}}`),
				Slots: []Slot{
					str("given", `"Sam"`), str("birth", `"1980-02-29"`), integer("household", "3"), num("income", "28000.5"),
					str("language", `"es"`), num("lat", "39.96"), str("zip", `"43215"`), str("state", `"OH"`),
					str("attribute", `"x"`),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error { return record(&referral.Person{})(data) },
		},
		{
			name: "referral.Service",
			tmpl: Template{
				Doc: ids(`{"id":"SERVICE","network_id":"NETWORK","organization_id":"RECEIVER","name":@name@,"status":@status@,` +
					`"domains":[@domain@],"locations":[{"id":"LOCATION","latitude":@lat@,"longitude":-83.0,"address":{"city":@city@}}],` +
					`"schedules":[{"byday":["MO"],"opens_at":@opens@,"closes_at":"17:00","timezone":@zone@}],` +
					`"service_areas":[{"kind":"zip","values":[@zip@]}],"capacity":{"available":@available@},"minimum_age":@age@}`),
				Slots: []Slot{
					str("name", `"Pantry"`), str("status", `"active"`), str("domain", `"food-insecurity"`), num("lat", "39.9"),
					str("city", `"Columbus"`), str("opens", `"09:00"`), str("zone", `"America/New_York"`), str("zip", `"43215"`),
					integer("available", "3"), integer("age", "18"),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error { return record(&referral.Service{})(data) },
		},
		{
			name: "referral.Consent",
			tmpl: Template{
				Doc: ids(`{"id":"ID1","network_id":"NETWORK","person_id":"PERSON","grantee_organization_id":@grantee@,` +
					`"scope":@scope@,"period":{"start":@start@,"end":"2027-01-01T00:00:00Z"},"document":@document@}`),
				Slots: []Slot{
					str("grantee", ids(`"RECEIVER"`)), str("scope", `"referral"`), str("start", `"2025-01-01T00:00:00Z"`),
					str("document", `"https://consents.example.org/c/1"`),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error { return record(&referral.Consent{})(data) },
		},
		{
			name: "referral.Screening",
			tmpl: Template{
				Doc: ids(`{"id":"ID1","network_id":"NETWORK","person_id":"PERSON","instrument":@instrument@,` +
					`"at":"2025-03-03T09:00:00Z","total":@total@,"valid":true,"band":@band@,"answers":{"56799-0":[@answer@]}}`),
				Slots: []Slot{
					str("instrument", `"prapare"`), num("total", "4"), str("band", `"moderate"`), str("answer", `"12 Elm Street"`),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error { return record(&referral.Screening{})(data) },
		},
		{
			name: "referral.Referral",
			tmpl: Template{
				Doc: ids(`{"id":"ID1","network_id":"NETWORK","person_id":"PERSON","needs":[{"domain":@domain@,"urgency":"routine",` +
					`"instrument":@instrument@}],"sender_organization_id":"SENDER","receiver_organization_id":"RECEIVER",` +
					`"status":@status@,"priority":"routine","reason":@reason@,"outcome":{"code":"got-help","note":@note@},` +
					`"created":"2025-03-03T09:00:00Z","updated":"2025-03-03T09:00:00Z","version":@version@}`),
				Slots: []Slot{
					str("domain", `"food-insecurity"`), str("instrument", `"prapare"`), str("status", `"completed"`),
					str("reason", `"got-help"`), str("note", `"Enrolled"`), integer("version", "3"),
				},
				Accept: hostDecoder,
			},
			run: func(data []byte) error { return record(&referral.Referral{})(data) },
		},
	}
}

// bundleText: ParseBundle is a decoder of refkit's own export shape. The text
// in it is the sender's; whoever stores or shows a value validates it there.
var bundleText = []string{
	"for-string-escaped-nul", "escaped text is well-formed JSON; the value is the sender's to vouch for",
	"for-string-escaped-escape", "escaped text is well-formed JSON; the value is the sender's to vouch for",
	"for-string-escaped-bell", "escaped text is well-formed JSON; the value is the sender's to vouch for",
}

// TestHostileJSONSmoke runs the corpus's document mutations and the deepest and
// largest values through the readers other teams own (HSDS import, the
// simulation's scenarios): they must not panic or hang, and must refuse with
// ErrInvalid. Their own hostile-input tests hold them to their limits.
func TestHostileJSONSmoke(t *testing.T) {
	ctx := context.Background()
	hsdsDoc := []byte(`{"contents":[{"id":"s1","name":"Pantry","status":"active","organization":{"id":"o1","name":"Org"},` +
		`"service_at_locations":[{"id":"l1","location":{"id":"l2","name":"Hall","latitude":30.27,"longitude":-97.74}}],` +
		`"attributes":[{"id":"t1","taxonomy_term":{"id":"t2","name":"Food Pantry","taxonomy":"Open Eligibility"}}]}]}`)
	scenario := []byte(`{"name":"x","start":"2026-01-05T00:00:00Z","duration":"1d","population":{"size":10,` +
		`"centres":[{"latitude":41.88,"longitude":-87.63,"sd_km":3,"weight":1,"state":"IL","county":"Cook"}],` +
		`"age":{"kind":"uniform","min":18,"max":80},"household_size":{"kind":"fixed","value":3}},` +
		`"screening":{"instrument":"hunger-vital-sign","coverage":1,"prevalence":[{"domain":"food-insecurity","p":0.4}]},` +
		`"sites":[{"name":"clinic","latitude":41.88,"longitude":-87.63,"rate_per_day":20}],` +
		`"services":[{"name":"pantry","latitude":41.89,"longitude":-87.62,"domains":["food-insecurity"],` +
		`"capacity":{"slots":3,"waitlist":5},"service_time":{"kind":"exponential","mean":12}}],` +
		`"partners":{"acknowledge_after":{"kind":"exponential","mean":4},"decide_after":{"kind":"exponential","mean":8},` +
		`"contact_after":{"kind":"exponential","mean":12},"reach":0.9},` +
		`"policy":{"radius_km":10,"when_full":"rank","accept_within":"48h","sweep_every":"1h","max_rereferrals":1}}`)
	readers := []struct {
		name  string
		valid []byte
		run   func([]byte) error
	}{
		{"hsds.ReadJSON", hsdsDoc, func(data []byte) error {
			_, err := hsds.ReadJSON(ctx, bytes.NewReader(data), hsds.Options{Network: referral.NewID(), Strict: true})
			return err
		}},
		{"simulation.Parse", scenario, func(data []byte) error { _, err := simulation.Parse(data); return err }},
	}
	big := map[string]bool{"deep-array-past-decoder-limit": true, "deep-array-100": true, "nested-array": true}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			require.NoError(t, guarded(t, func() error { return r.run(r.valid) }), "the smoke document is accepted")
			cases := Mutations(r.valid)
			for _, v := range Values() {
				if big[v.Name] {
					cases = append(cases, Case{Name: v.Name, Data: v.JSON})
				}
			}
			for _, c := range cases {
				if strings.HasPrefix(c.Name, "duplicate-key") || c.Name == "padded-past-caps" {
					continue // their own tests decide duplicates and caps
				}
				err := guarded(t, func() error { return r.run(c.Data) })
				require.ErrorIs(t, err, referral.ErrInvalid, "%s: %s", r.name, c.Name)
			}
		})
	}
}

// The document caps screening and fhir state in their docs.
const screeningLimit, fhirLimit = 4 << 20, 4 << 20
