package fhir

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// People is what an Exchange reads about the person a referral is for: the
// Patient, the screenings the needs cite and the consents the bundle carries.
// Every storage.Store satisfies it, as does every lifecycle.Store.
type People interface {
	GetPerson(ctx context.Context, network, id referral.ID) (referral.Person, error)
	GetScreening(ctx context.Context, network, id referral.ID) (referral.Screening, error)
	ListConsents(ctx context.Context, network, person referral.ID) ([]referral.Consent, error)
}

// Options tune an Exchange. The zero value is usable.
type Options struct {
	// Instruments resolves stored screenings' instruments to render their
	// Observations; nil uses the built-in instruments.
	Instruments *screening.Registry
	// Now stamps the bundle and decides whether a consent is still active; nil
	// uses time.Now.
	Now func() time.Time
	// BaseURL, if set, is the host's FHIR endpoint (an absolute http or https
	// URL): a collection bundle's entries then have fullUrl BaseURL/Type/id and
	// reference one another as Type/id. Without it every entry's fullUrl is
	// urn:uuid:<uuid> and references are those URNs, so they resolve within
	// the bundle as FHIR R4 requires.
	BaseURL string
	// Transaction makes Export return a transaction bundle a FHIR server
	// applies in one go: the Patient, Organizations, QuestionnaireResponses,
	// Observations and outcome resources are conditional creates (POST with
	// ifNoneExist on their identifier), the ServiceRequest, Task and Consents
	// conditional updates (PUT Type?identifier=...), so sending the referral
	// again as it changes creates nothing twice. Entries are urn:uuid and
	// carry no id, the server assigning its own.
	Transaction bool
	// PersonIdentifierSystem is the identifier system (an absolute URI) under
	// which a Patient whose person has no identifiers of the host's is
	// identified by refkit's person id, as US Core requires an identifier.
	// Empty uses urn:ietf:rfc:3986 and the value urn:uuid:<person id>.
	PersonIdentifierSystem string
	// Codes translate outcomes to the IG's procedures and enrollment
	// statuses. The zero value uses the rows of DefaultCodes whose outcomes
	// the engine closes referrals with; tables given here must name only
	// such outcomes.
	Codes Codes
	// TracerProvider receives a span per export, Task update and capacity
	// inquiry (see the package doc's Telemetry); nil means the OpenTelemetry
	// global provider, which records nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the operation metrics; nil means the
	// OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// Exchange exports referrals as FHIR bundles and applies Task updates. It is
// safe for concurrent use.
type Exchange struct {
	engine       *lifecycle.Engine
	people       People
	directory    lifecycle.Directory
	instruments  *screening.Registry
	now          func() time.Time
	base         string
	transaction  bool
	personSystem string
	codes        Codes
	tel          *tel
}

// New returns an Exchange over engine, reading the person's records from
// people and the organizations from directory: usually the store and the
// directory the engine was built on. Reads of the referral and every update go
// through the engine, so its access checks hold. A missing argument or an
// option out of range is an error wrapping referral.ErrInvalid.
func New(engine *lifecycle.Engine, people People, directory lifecycle.Directory, opts Options) (*Exchange, error) {
	if engine == nil {
		return nil, referral.Invalid("engine", "is required")
	}
	if people == nil {
		return nil, referral.Invalid("people", "is required")
	}
	if directory == nil {
		return nil, referral.Invalid("directory", "is required")
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || len(base) > 2048 {
			return nil, referral.Invalid("base_url", "must be an absolute http or https URL")
		}
	}
	if opts.PersonIdentifierSystem != "" && (!absoluteURI(opts.PersonIdentifierSystem) || strings.ContainsAny(opts.PersonIdentifierSystem, " |")) {
		return nil, referral.Invalid("person_identifier_system", "must be an absolute URI")
	}
	outcomes := engine.Codes().Outcome
	codes := opts.Codes.clone()
	if len(codes.Procedures) == 0 && len(codes.Enrollments) == 0 {
		codes = DefaultCodes().only(outcomes)
	}
	if err := codes.validate(outcomes); err != nil {
		return nil, err
	}
	x := &Exchange{
		engine: engine, people: people, directory: directory, instruments: opts.Instruments, now: opts.Now,
		base: base, transaction: opts.Transaction, personSystem: opts.PersonIdentifierSystem, codes: codes,
		tel: newTel(opts),
	}
	if x.instruments == nil {
		reg, err := screening.Builtin()
		if err != nil {
			return nil, err
		}
		x.instruments = reg
	}
	if x.now == nil {
		x.now = time.Now
	}
	return x, nil
}

// Codes returns a copy of the exchange's outcome tables.
func (x *Exchange) Codes() Codes { return x.codes.clone() }

// Export renders the referral as a Bundle: the SDOHCC ServiceRequest and
// TaskForReferralManagement, the SDOHCC Consents the person gave the
// receiving organization, the US Core Patient and Organizations (sender and
// receiver), the QuestionnaireResponses the needs came from and their SDOHCC
// screening-response Observations, and, once the loop is closed, the SDOHCC
// Procedure or program enrollment Observation the outcome maps to (Codes).
// The actor must be allowed to see the referral (ErrNotFound otherwise),
// exactly as for lifecycle's Get.
//
// Only what the referral's needs are about is sent (minimum necessary): the
// answers, Observations and QuestionnaireResponse items of the needs'
// domains, not the rest of the screening. Only the referral's own person's
// screenings are rendered. Stores refuse a need citing anyone else's, so one
// can reach Export only from a store that breaks that contract or from a
// referral stored before stores checked it; Export leaves such a screening
// out rather than send one person's answers in another's referral, and
// likewise leaves out a cited screening the store no longer has, so the
// referral itself still exports.
//
// Directory data the US Core Organization profile refuses (an NPI that fails
// its check digit, a malformed CLIA or NAIC number) fails the export with
// ErrInvalid naming the identifier, rather than send it.
func (x *Exchange) Export(ctx context.Context, actor referral.Actor, id referral.ID) (*Bundle, error) {
	ctx, obs := x.tel.begin(ctx, opExport, &actor, id)
	b, err := x.export(ctx, actor, id)
	obs.endExport(ctx, b, err)
	return b, err
}

// export is Export, unobserved.
func (x *Exchange) export(ctx context.Context, actor referral.Actor, id referral.ID) (*Bundle, error) {
	r, err := x.engine.Get(ctx, actor, id)
	if err != nil {
		return nil, fmt.Errorf("fhir export: %w", err)
	}
	e := &exporter{x: x, r: r, now: x.now()}
	if err := e.load(ctx); err != nil {
		return nil, fmt.Errorf("fhir export: %w", err)
	}
	b, err := e.bundle(ctx)
	if err != nil {
		return nil, fmt.Errorf("fhir export: %w", err)
	}
	return b, nil
}

// exporter renders one referral.
type exporter struct {
	x                *Exchange
	r                referral.Referral
	now              time.Time
	person           referral.Person
	sender, receiver referral.Organization
	consents         []referral.Consent
	b                *Bundle
}

func (e *exporter) load(ctx context.Context) error {
	x, r := e.x, e.r
	var err error
	if e.person, err = x.people.GetPerson(ctx, r.Network, r.Person); err != nil {
		return fmt.Errorf("person: %w", err)
	}
	if e.sender, err = x.directory.GetOrganization(ctx, r.Network, r.Sender); err != nil {
		return fmt.Errorf("sending organization: %w", err)
	}
	if e.receiver, err = x.directory.GetOrganization(ctx, r.Network, r.Receiver); err != nil {
		return fmt.Errorf("receiving organization: %w", err)
	}
	all, err := x.people.ListConsents(ctx, r.Network, r.Person)
	if err != nil {
		return fmt.Errorf("consents: %w", err)
	}
	for _, c := range all {
		if c.Grantee == r.Receiver {
			e.consents = append(e.consents, c)
		}
	}
	return nil
}

// uuidNamespace names the UUIDs refkit derives (RFC 9562 version 5) for
// resources whose id is not itself a UUID, so every export of a resource
// gives it the same urn:uuid.
var uuidNamespace = [16]byte{0x6f, 0x1b, 0x2c, 0x9e, 0x3d, 0x0a, 0x5b, 0x7e, 0x9c, 0x41, 0x72, 0xa5, 0xe0, 0xd8, 0xf3, 0xb6}

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// resourceUUID is the UUID behind a resource's urn:uuid: its id when that is
// a UUID, else one derived from its type and id. The Task shares the
// referral's id with the ServiceRequest, so its UUID is always derived.
func resourceUUID(kind, id string) string {
	if kind != "Task" && canonicalUUID.MatchString(id) {
		return id
	}
	return uuid5(uuidNamespace, kind+"/"+id)
}

// uuid5 is the name-based (SHA-1) UUID of name in a namespace.
func uuid5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // the RFC variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// urnIdentifier identifies a resource as its urn:uuid.
func urnIdentifier(kind, id string) Identifier {
	return Identifier{System: SystemRFC3986, Value: "urn:uuid:" + resourceUUID(kind, id)}
}

// fullURL is an entry's fullUrl.
func (x *Exchange) fullURL(kind, id string) string {
	if x.base != "" && !x.transaction {
		return x.base + "/" + kind + "/" + id
	}
	return "urn:uuid:" + resourceUUID(kind, id)
}

// ref is a reference to a resource in the bundle, resolvable there: relative
// against a base URL, else the target's urn:uuid.
func (x *Exchange) ref(kind, id string) *Reference {
	if x.base != "" && !x.transaction {
		return &Reference{Reference: kind + "/" + id}
	}
	return &Reference{Reference: "urn:uuid:" + resourceUUID(kind, id)}
}

// mutable resources are PUT to a conditional URL in a transaction, so a
// later export updates them; the rest are created once.
var mutable = map[string]bool{"ServiceRequest": true, "Task": true, "Consent": true}

// add appends a resource; match is the identifier a transaction matches an
// existing resource by.
func (e *exporter) add(kind, id string, res any, match Identifier) {
	entry := Entry{FullURL: e.x.fullURL(kind, id), Resource: res}
	if e.x.transaction {
		query := "identifier=" + url.QueryEscape(match.System) + "|" + url.QueryEscape(searchEscape(match.Value))
		if mutable[kind] {
			entry.Request = &EntryRequest{Method: "PUT", URL: kind + "?" + query}
		} else {
			entry.Request = &EntryRequest{Method: "POST", URL: kind, IfNoneExist: query}
		}
		clearID(res)
	}
	e.b.Entry = append(e.b.Entry, entry)
}

// searchEscape escapes the characters FHIR search gives a meaning inside a
// token value.
func searchEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`).Replace(s)
}

// clearID drops a resource's id: a server assigns its own on create, and a
// conditional update finds the resource by identifier.
func clearID(res any) {
	switch r := res.(type) {
	case *ServiceRequest:
		r.ID = ""
	case *Task:
		r.ID = ""
	case *Consent:
		r.ID = ""
	case *Patient:
		r.ID = ""
	case *Organization:
		r.ID = ""
	case *Observation:
		r.ID = ""
	case *QuestionnaireResponse:
		r.ID = ""
	case *Procedure:
		r.ID = ""
	case *HealthcareService:
		r.ID = ""
	}
}

func (e *exporter) bundle(ctx context.Context) (*Bundle, error) {
	x, r := e.x, e.r
	typ := "collection"
	if x.transaction {
		typ = "transaction"
	}
	e.b = &Bundle{ResourceType: "Bundle", Type: typ, Timestamp: instant(e.now)}

	sources, err := e.screenings(ctx)
	if err != nil {
		return nil, err
	}
	var obs []Observation
	for _, s := range sources {
		obs = append(obs, s.obs...)
	}
	sr := e.serviceRequest(obs)
	proc, enrollment, err := e.outcome(ctx, obs)
	if err != nil {
		return nil, err
	}
	task := e.task(proc, enrollment)
	sender, err := e.organization(e.sender)
	if err != nil {
		return nil, err
	}
	receiver, err := e.organization(e.receiver)
	if err != nil {
		return nil, err
	}

	e.add("ServiceRequest", sr.ID, sr, sr.Identifier[0])
	e.add("Task", task.ID, task, task.Identifier[0])
	for _, c := range e.consents {
		fc := e.consent(c)
		e.add("Consent", fc.ID, fc, fc.Identifier[0])
	}
	p := e.patient()
	e.add("Patient", p.ID, p, p.Identifier[0])
	e.add("Organization", sender.ID, sender, sender.Identifier[0])
	if r.Receiver != r.Sender {
		e.add("Organization", receiver.ID, receiver, receiver.Identifier[0])
	}
	for _, s := range sources {
		qr := s.qr
		e.add("QuestionnaireResponse", qr.ID, qr, *qr.Identifier)
	}
	for i := range obs {
		o := &obs[i]
		e.add("Observation", o.ID, o, o.Identifier[0])
	}
	if proc != nil {
		e.add("Procedure", proc.ID, proc, proc.Identifier[0])
	}
	if enrollment != nil {
		e.add("Observation", enrollment.ID, enrollment, enrollment.Identifier[0])
	}
	return e.b, nil
}

// source is one cited screening as the bundle carries it: the
// QuestionnaireResponse of the answers about the needs, and their
// Observations.
type source struct {
	qr  *QuestionnaireResponse
	obs []Observation
}

// screenings renders the screenings the referral's needs came from, in the
// order the needs name them, each once.
func (e *exporter) screenings(ctx context.Context) ([]source, error) {
	r := e.r
	var seen []referral.ID
	var out []source
	for _, n := range r.Needs {
		if n.Screening.IsZero() || slices.Contains(seen, n.Screening) {
			continue
		}
		seen = append(seen, n.Screening)
		s, err := e.x.people.GetScreening(ctx, r.Network, n.Screening)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("screening %s: %w", n.Screening, err)
		case s.Person != r.Person || s.Network != r.Network:
			// The second line of defence: never another person's answers.
			continue
		}
		src, err := e.screening(s)
		if err != nil {
			return nil, fmt.Errorf("screening %s: %w", n.Screening, err)
		}
		if src != nil {
			out = append(out, *src)
		}
	}
	return out, nil
}

// screening replays a stored screening's answers through its instrument, so
// the Observations are exactly those package screening writes for a live
// response, and keeps what the needs are about. It is nil when nothing is.
func (e *exporter) screening(s referral.Screening) (*source, error) {
	in, err := e.x.instruments.Lookup(s.Instrument)
	if err != nil {
		return nil, err
	}
	resp := in.NewResponse()
	used := 0
	for _, it := range in.Items {
		given, ok := s.Answers[it.ID]
		if !ok {
			continue
		}
		used++
		if err := resp.Answer(it.ID, given...); err != nil {
			return nil, err
		}
	}
	if used != len(s.Answers) {
		return nil, referral.Invalid("answers", "name items the instrument does not have")
	}
	res := resp.Score()
	needed := func(d referral.Domain) bool {
		return slices.ContainsFunc(e.r.Needs, func(n referral.Need) bool { return n.Domain == d })
	}
	// The QuestionnaireResponse holds the needs' items only, so its id says
	// which: another referral citing the same screening for other needs
	// carries another one.
	var domains []string
	for _, n := range e.r.Needs {
		if !slices.Contains(domains, string(n.Domain)) {
			domains = append(domains, string(n.Domain))
		}
	}
	slices.Sort(domains)
	qrID := resourceUUID("QuestionnaireResponse", s.ID.String()+"|"+strings.Join(domains, ","))
	subject := e.x.ref("Patient", s.Person.String()).Reference
	qr := resp.QuestionnaireResponse(&res, screening.QuestionnaireResponseOptions{
		ID: qrID, Subject: subject, At: s.At, Keep: func(it *screening.Item) bool { return needed(it.Domain) },
	})
	obs := resp.Observations(&res, screening.ObservationOptions{
		Prefix: s.ID.String(), Subject: subject, At: s.At, Source: e.x.ref("QuestionnaireResponse", qrID).Reference,
	})
	obs = relevant(obs, e.r.Needs)
	if len(obs) == 0 {
		return nil, nil
	}
	qr.Identifier = &Identifier{System: SystemRFC3986, Value: "urn:uuid:" + qrID}
	qr.Text = questionnaireResponseNarrative(&qr, in.Title)
	// Observations name one another (hasMember, derivedFrom) by id; the bundle
	// resolves references to its entries.
	for i := range obs {
		o := &obs[i]
		o.Identifier = []Identifier{urnIdentifier("Observation", o.ID)}
		o.HasMember = e.relink(o.HasMember)
		o.DerivedFrom = e.relink(o.DerivedFrom)
		o.Text = observationNarrative(o)
	}
	return &source{qr: &qr, obs: obs}, nil
}

// relink rewrites "Observation/<id>" references to the bundle's form.
func (e *exporter) relink(refs []Reference) []Reference {
	for i, ref := range refs {
		if id, ok := strings.CutPrefix(ref.Reference, "Observation/"); ok {
			refs[i] = *e.x.ref("Observation", id)
		}
	}
	return refs
}

// relevant keeps the Observations about the referral's needs and nothing else:
// the receiver of a food referral gets the food answers, not the answers about
// mood or safety the same screening asked (minimum necessary). A kept panel
// loses its members and SDOH categories about other domains, and no
// Observation keeps a derivation from one left out.
func relevant(obs []Observation, needs []referral.Need) []Observation {
	kept := map[string]bool{}
	var about []Observation
	for i := range obs {
		if concerns(&obs[i], needs) {
			kept["Observation/"+obs[i].ID] = true
			about = append(about, obs[i])
		}
	}
	dropped := func(m Reference) bool {
		return strings.HasPrefix(m.Reference, "Observation/") && !kept[m.Reference]
	}
	out := about[:0]
	for _, o := range about {
		o.DerivedFrom = slices.DeleteFunc(slices.Clone(o.DerivedFrom), dropped)
		if len(o.HasMember) > 0 {
			o.HasMember = slices.DeleteFunc(slices.Clone(o.HasMember), dropped)
			o.Category = slices.DeleteFunc(slices.Clone(o.Category), func(c CodeableConcept) bool {
				return !hasCoding(&c, screening.SystemObservationCategory, "survey") && !hasCoding(&c, SystemUSCoreCategory, "sdoh") &&
					!concerns(&Observation{Category: []CodeableConcept{c}}, needs)
			})
			// A panel left with neither value nor members says nothing.
			if len(o.HasMember) == 0 && o.ValueInteger == nil && o.ValueCodeableConcept == nil && o.ValueString == nil {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// concerns reports whether an Observation is about one of the needs' domains:
// those are the reasons for the referral.
func concerns(o *Observation, needs []referral.Need) bool {
	for _, c := range o.Category {
		for _, cd := range c.Coding {
			for _, n := range needs {
				if cd.Code == string(n.Domain) {
					return true
				}
			}
		}
	}
	return false
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// requestStatus is the ServiceRequest status for a referral status: the
// request stays active while the Task is worked and ends with it.
func requestStatus(s referral.Status) string {
	switch s {
	case referral.StatusDraft:
		return "draft"
	case referral.StatusOnHold:
		return "on-hold"
	case referral.StatusCompleted:
		return "completed"
	case referral.StatusRejected, referral.StatusCancelled, referral.StatusFailed:
		return "revoked"
	case referral.StatusEnteredInError:
		return "entered-in-error"
	}
	return "active"
}

// priority maps urgency onto FHIR request priority.
func priority(u referral.Urgency) string {
	if u == referral.Emergent {
		return "stat"
	}
	return string(u)
}

func profile(p string) *Meta { return &Meta{Profile: []string{p}} }

func version(r referral.Referral, p string) *Meta {
	return &Meta{VersionID: strconv.FormatInt(r.Version, 10), LastUpdated: instant(r.Updated), Profile: []string{p}}
}

// socialService is the US Core ServiceRequest category (and SDOHCC
// Procedure category) of a social care referral, as the IG's examples use it.
var socialService = Coding{System: SystemSNOMED, Code: codeSocialService, Display: "Social service procedure"}

// domainCategories are the needs' SDOH categories, each once.
func domainCategories(needs []referral.Need) []Coding {
	var out []Coding
	for _, n := range needs {
		info, ok := referral.LookupDomain(n.Domain)
		if !ok || slices.ContainsFunc(out, func(c Coding) bool { return c.Code == string(n.Domain) }) {
			continue
		}
		out = append(out, Coding{System: info.System, Code: string(n.Domain), Display: info.Display})
	}
	return out
}

func (e *exporter) serviceRequest(obs []Observation) *ServiceRequest {
	x, r := e.x, e.r
	id := r.ID.String()
	sr := &ServiceRequest{
		ResourceType: "ServiceRequest", ID: id, Meta: version(r, ProfileServiceRequest),
		Identifier: []Identifier{urnIdentifier("ServiceRequest", id)},
		Status:     requestStatus(r.Status), Intent: "order", Priority: priority(r.Priority),
		Category: []CodeableConcept{{Coding: []Coding{socialService}}},
		Subject:  x.ref("Patient", r.Person.String()), AuthoredOn: instant(r.Created),
		Requester: x.ref("Organization", r.Sender.String()), Performer: []Reference{*x.ref("Organization", r.Receiver.String())},
	}
	var names []string
	for _, c := range domainCategories(r.Needs) {
		sr.Category = append(sr.Category, CodeableConcept{Coding: []Coding{c}})
		names = append(names, c.Display)
	}
	text := "Referral"
	if len(names) > 0 {
		text += " for " + strings.Join(names, ", ")
	}
	sr.Code = &CodeableConcept{Coding: []Coding{{System: SystemSNOMED, Code: codeReferral, Display: "Patient referral"}}, Text: text}
	for _, c := range e.consents {
		if c.Scope == referral.ScopeReferral {
			sr.SupportingInfo = append(sr.SupportingInfo, *x.ref("Consent", c.ID.String()))
		}
	}
	for i := range obs {
		sr.ReasonReference = append(sr.ReasonReference, *x.ref("Observation", obs[i].ID))
	}
	sr.Text = narrative(text+" from "+e.sender.Name+" to "+e.receiver.Name, "Status: "+sr.Status+", priority "+sr.Priority)
	return sr
}

// reasonConcept carries a reason code with its text, which the IG asks for
// whenever a Task is rejected, cancelled, on hold or failed. A referral
// declined or failed for want of capacity also carries the IG's no-capacity
// code, the post-referral capacity notification of its capacity page.
func reasonConcept(code string) *CodeableConcept {
	c := &CodeableConcept{Coding: []Coding{{System: SystemReason, Code: code}}, Text: code}
	if code == "no-capacity" {
		c.Coding = append(c.Coding, Coding{System: SystemSDOHCC, Code: "no-capacity", Display: "No Capacity"})
	}
	return c
}

// businessDisplays name refkit's business statuses.
var businessDisplays = map[referral.BusinessStatus]string{
	referral.BusinessAcknowledged: "Acknowledged", referral.BusinessWaitlisted: "Waitlisted",
	referral.BusinessScheduled: "Scheduled", referral.BusinessNoShow: "No show",
	referral.BusinessCancelRequested: "Cancellation requested", referral.BusinessCancelRefused: "Cancellation refused",
}

func (e *exporter) task(proc *Procedure, enrollment *Observation) *Task {
	x, r := e.x, e.r
	id := r.ID.String()
	t := &Task{
		ResourceType: "Task", ID: id, Meta: version(r, ProfileTask),
		Identifier: []Identifier{urnIdentifier("Task", id)},
		Status:     string(r.Status), Intent: "order", Priority: priority(r.Priority),
		Code:  &CodeableConcept{Coding: []Coding{{System: SystemTaskCode, Code: codeFulfill, Display: "Fulfill the focal request"}}},
		Focus: x.ref("ServiceRequest", id), For: x.ref("Patient", r.Person.String()),
		AuthoredOn: instant(r.Created), LastModified: instant(r.Updated),
		Requester: x.ref("Organization", r.Sender.String()), Owner: x.ref("Organization", r.Receiver.String()),
	}
	if r.BusinessStatus != "" {
		d := businessDisplays[r.BusinessStatus]
		t.BusinessStatus = &CodeableConcept{Coding: []Coding{{System: SystemBusinessStatus, Code: string(r.BusinessStatus), Display: d}}, Text: d}
	}
	switch {
	case r.BusinessStatus == referral.BusinessCancelRequested:
		// The request's reason is what the receiver must answer.
		t.StatusReason = reasonConcept(r.CancelReason)
	case r.Reason != "":
		switch r.Status {
		case referral.StatusRejected, referral.StatusCancelled, referral.StatusOnHold, referral.StatusFailed:
			t.StatusReason = reasonConcept(r.Reason)
		}
	}
	if proc != nil {
		t.Output = append(t.Output,
			TaskOutput{Type: outputType(SystemSDOHCC, codeResultingActivity, "Resulting Activity"), ValueReference: x.ref("Procedure", proc.ID)},
			TaskOutput{Type: outputType(SystemSDOHCC, codeResultingActivity, "Resulting Activity"), ValueCodeableConcept: &CodeableConcept{Coding: slices.Clone(proc.Code.Coding)}})
	}
	if enrollment != nil {
		t.Output = append(t.Output, TaskOutput{Type: outputType(SystemSDOHCC, codeAdditionalContent, "Additional Content"), ValueReference: x.ref("Observation", enrollment.ID)})
	}
	if r.Outcome != nil {
		text := r.Outcome.Note
		if text == "" {
			text = r.Outcome.Code
		}
		t.Output = append(t.Output, TaskOutput{
			Type:                 outputType(SystemOutputType, OutputOutcome, "Outcome"),
			ValueCodeableConcept: &CodeableConcept{Coding: []Coding{{System: SystemOutcome, Code: r.Outcome.Code}}, Text: text},
		})
	}
	state := string(r.Status)
	if r.BusinessStatus != "" {
		state += " (" + string(r.BusinessStatus) + ")"
	}
	t.Text = narrative("Referral task "+state, "Requested by "+e.sender.Name+"; owner "+e.receiver.Name)
	return t
}

func outputType(system, code, display string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: system, Code: code, Display: display}}}
}

// outcome renders a closed loop's outcome as the IG carries it: the Procedure
// its Codes row names, or the program enrollment Observation. Neither when
// the referral is not completed or no row maps its outcome.
func (e *exporter) outcome(ctx context.Context, obs []Observation) (*Procedure, *Observation, error) {
	x, r := e.x, e.r
	if r.Status != referral.StatusCompleted || r.Outcome == nil {
		return nil, nil, nil
	}
	var proc *Procedure
	if code, ok := x.codes.procedureFor(r.Outcome.Code); ok {
		id := r.ID.String() + "-procedure"
		proc = &Procedure{
			ResourceType: "Procedure", ID: id, Meta: profile(ProfileProcedure),
			Identifier: []Identifier{urnIdentifier("Procedure", id)},
			BasedOn:    []Reference{*x.ref("ServiceRequest", r.ID.String())},
			Status:     "completed",
			Category:   &CodeableConcept{Coding: append([]Coding{socialService}, domainCategories(r.Needs)...)},
			Code:       &CodeableConcept{Coding: []Coding{code}, Text: code.Display},
			Subject:    x.ref("Patient", r.Person.String()), PerformedDateTime: instant(r.Closed),
			Performer: []ProcedureActor{{Actor: *x.ref("Organization", r.Receiver.String())}},
		}
		for i := range obs {
			proc.ReasonReference = append(proc.ReasonReference, *x.ref("Observation", obs[i].ID))
		}
		if r.Outcome.Note != "" {
			proc.Note = []Annotation{{Text: r.Outcome.Note}}
		}
		proc.Text = narrative(display(proc.Code)+": completed "+r.Closed.UTC().Format(time.DateOnly), "By "+e.receiver.Name)
	}
	var enrollment *Observation
	if status, ok := x.codes.enrollmentFor(r.Outcome.Code); ok {
		program := "Program enrollment"
		if !r.Service.IsZero() {
			svc, err := x.directory.GetService(ctx, r.Network, r.Service)
			switch {
			case err == nil:
				program = svc.Name
			case !errors.Is(err, referral.ErrNotFound):
				return nil, nil, fmt.Errorf("service: %w", err)
			}
		}
		id := r.ID.String() + "-enrollment"
		value := Coding{System: SystemSDOHCC, Code: status, Display: enrollmentStatuses[status]}
		enrollment = &Observation{
			ResourceType: "Observation", ID: id, Meta: profile(ProfileEnrollment),
			Identifier: []Identifier{urnIdentifier("Observation", id)}, Status: "final",
			Category: []CodeableConcept{
				{Coding: []Coding{{System: SystemUSCoreCategory, Code: "sdoh", Display: "SDOH"}}},
				{Coding: []Coding{{System: SystemSDOHCC, Code: codeProgramEnrollment, Display: "Program Enrollment Status"}}},
			},
			Code:    CodeableConcept{Text: program},
			Subject: x.ref("Patient", r.Person.String()), EffectiveDateTime: instant(r.Closed),
			Performer:            []Reference{*x.ref("Organization", r.Receiver.String())},
			ValueCodeableConcept: &CodeableConcept{Coding: []Coding{value}, Text: value.Display},
		}
		for _, c := range domainCategories(r.Needs) {
			enrollment.Category = append(enrollment.Category, CodeableConcept{Coding: []Coding{c}})
		}
		if r.Outcome.Note != "" {
			enrollment.Note = []Annotation{{Text: r.Outcome.Note}}
		}
		enrollment.Text = narrative(program + ": " + value.Display)
	}
	return proc, enrollment, nil
}

func (e *exporter) consent(c referral.Consent) *Consent {
	x, r, now := e.x, e.r, e.now
	status := "active"
	if !c.Revoked.IsZero() && !now.Before(c.Revoked) || !c.Period.End.IsZero() && !now.Before(c.Period.End) {
		status = "inactive"
	}
	// The IG requires when the consent was given; a record without a creation
	// time falls back to the start of its period, then to the referral's creation.
	when := c.Created
	if when.IsZero() {
		when = c.Period.Start
	}
	if when.IsZero() {
		when = r.Created
	}
	action := "disclose"
	if c.Scope == referral.ScopeView {
		action = "access"
	}
	prov := &Provision{
		Type: "permit",
		Actor: []ProvisionActor{{
			Role:      CodeableConcept{Coding: []Coding{{System: systemParticipation, Code: "IRCP", Display: "information recipient"}}},
			Reference: *x.ref("Organization", c.Grantee.String()),
		}},
		Action: []CodeableConcept{{Coding: []Coding{{System: systemConsentAction, Code: action}}}},
	}
	end := c.Period.End
	if !c.Revoked.IsZero() && (end.IsZero() || c.Revoked.Before(end)) {
		end = c.Revoked
	}
	if !c.Period.Start.IsZero() || !end.IsZero() {
		prov.Period = &Period{}
		if !c.Period.Start.IsZero() {
			prov.Period.Start = instant(c.Period.Start)
		}
		if !end.IsZero() {
			prov.Period.End = instant(end)
		}
	}
	id := c.ID.String()
	return &Consent{
		ResourceType: "Consent", ID: id, Meta: profile(ProfileConsent),
		Text:       narrative("Consent to "+action+" to "+e.receiver.Name+": "+status, "Recorded by "+e.sender.Name),
		Identifier: []Identifier{urnIdentifier("Consent", id)},
		Status:     status,
		Scope:      &CodeableConcept{Coding: []Coding{{System: systemConsentScope, Code: "patient-privacy"}}},
		Category:   []CodeableConcept{{Coding: []Coding{{System: systemActCode, Code: "IDSCL"}}}},
		Patient:    x.ref("Patient", c.Person.String()), DateTime: instant(when),
		// The referring organization took the consent and keeps the record.
		Organization:     []Reference{*x.ref("Organization", r.Sender.String())},
		SourceAttachment: consentSource(c, when),
		PolicyRule:       &CodeableConcept{Coding: []Coding{{System: systemActCode, Code: "OPTIN"}}},
		Provision:        prov,
	}
}

// consentSource points at the signed consent: the host's document when it
// recorded one, otherwise the consent record itself (the IG requires a source).
func consentSource(c referral.Consent, when time.Time) *Attachment {
	if c.Document != "" {
		return &Attachment{Title: "Signed consent", URL: c.Document, Creation: instant(when)}
	}
	return &Attachment{Title: "Consent recorded by the referring organization", URL: "urn:uuid:" + c.ID.String(), Creation: instant(when)}
}

// identifierTypes are the HL7 v2 table 0203 codes refkit recognises in an
// identifier's Type; any other Type is sent as text.
var identifierTypes = map[string]bool{
	"MR": true, "MA": true, "MC": true, "SS": true, "DL": true, "PPN": true, "PI": true, "AN": true,
	"NPI": true, "TAX": true, "XX": true, "PRN": true, "EN": true, "SB": true,
}

// identifier renders an identifier. FHIR's Identifier.system is a URI: an
// identifier imported from HSDS may instead name its scheme by a code
// ("US-EIN"), which then travels in the type's text, beside the value.
func identifier(id referral.Identifier) Identifier {
	out := Identifier{Value: id.Value}
	text := id.Type
	if absoluteURI(id.System) {
		out.System = id.System
	} else if id.System != "" {
		text = strings.TrimSpace(id.System + " " + id.Type)
	}
	switch {
	case identifierTypes[id.Type] && text == id.Type:
		out.Type = &CodeableConcept{Coding: []Coding{{System: systemIdentifierType, Code: id.Type}}}
	case text != "":
		out.Type = &CodeableConcept{Text: text}
	}
	return out
}

// patient is the US Core Patient: the host's identifiers (or refkit's id when
// it has none: US Core needs one), the name (or US Core's data-absent-reason
// when unknown), the administrative gender ("unknown" when not recorded: the
// binding is required and has an unknown code) and the birth date.
func (e *exporter) patient() *Patient {
	p := e.person
	id := p.ID.String()
	out := &Patient{ResourceType: "Patient", ID: id, Meta: profile(ProfilePatient), BirthDate: p.BirthDate.String(), Gender: string(p.Gender)}
	for _, i := range p.Identifiers {
		out.Identifier = append(out.Identifier, identifier(i))
	}
	if len(out.Identifier) == 0 {
		if e.x.personSystem != "" {
			out.Identifier = []Identifier{{System: e.x.personSystem, Value: id}}
		} else {
			out.Identifier = []Identifier{urnIdentifier("Patient", id)}
		}
	}
	if out.Gender == "" {
		out.Gender = string(referral.GenderUnknown)
	}
	if p.GivenName != "" || p.FamilyName != "" {
		n := HumanName{Family: p.FamilyName}
		if p.GivenName != "" {
			n.Given = []string{p.GivenName}
		}
		out.Name = []HumanName{n}
	} else {
		out.Name = []HumanName{{Extension: []Extension{{URL: urlDataAbsentReason, ValueCode: "unknown"}}}}
	}
	out.Text = patientNarrative(out)
	return out
}

// Identifier systems US Core Organization constrains (US Core 7.0.0,
// StructureDefinition-us-core-organization.yml: us-core-16, 17, 18, 19).
const (
	systemNPI  = "http://hl7.org/fhir/sid/us-npi"
	systemCLIA = "urn:oid:2.16.840.1.113883.4.7"
	systemNAIC = "urn:oid:2.16.840.1.113883.6.300"
)

var (
	cliaPattern = regexp.MustCompile(`^[0-9]{2}D[0-9]{7}$`)
	naicPattern = regexp.MustCompile(`^[0-9]{5}$`)
)

// organization is the US Core Organization, refusing identifiers the profile
// refuses.
func (e *exporter) organization(o referral.Organization) (*Organization, error) {
	id := o.ID.String()
	out := &Organization{
		ResourceType: "Organization", ID: id, Meta: profile(ProfileOrganization), Active: true, Name: o.Name,
		Text: narrative(o.Name),
	}
	for i, ident := range o.Identifiers {
		if problem := organizationIdentifierProblem(ident); problem != "" {
			return nil, referral.Invalid("organization.identifiers["+strconv.Itoa(i)+"]", problem)
		}
		out.Identifier = append(out.Identifier, identifier(ident))
	}
	out.Identifier = append(out.Identifier, urnIdentifier("Organization", id))
	for _, t := range []struct{ system, value string }{{"phone", o.Phone}, {"email", o.Email}, {"url", o.Website}} {
		if strings.TrimSpace(t.value) != "" {
			out.Telecom = append(out.Telecom, ContactPoint{System: t.system, Value: t.value, Use: "work"})
		}
	}
	return out, nil
}

// organizationIdentifierProblem says why US Core Organization refuses an
// identifier, or "" when it does not.
func organizationIdentifierProblem(id referral.Identifier) string {
	switch id.System {
	case systemNPI:
		if !validNPI(id.Value) {
			return "is not a valid NPI: 10 digits with a Luhn check digit (US Core us-core-16, us-core-17)"
		}
	case systemCLIA:
		if !cliaPattern.MatchString(id.Value) {
			return "is not a valid CLIA number: 2 digits, D, 7 digits (US Core us-core-18)"
		}
	case systemNAIC:
		if !naicPattern.MatchString(id.Value) {
			return "is not a valid NAIC code: 5 digits (US Core us-core-19)"
		}
	}
	return ""
}

// validNPI checks an NPI as US Core's us-core-16 and us-core-17 do: ten
// digits whose Luhn sum, with the 80840 prefix's constant 24 added, is a
// multiple of ten.
func validNPI(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 24
	for i := 0; i < 10; i++ {
		d := int(s[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
