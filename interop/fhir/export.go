package fhir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
	// BaseURL, if set, gives every entry a fullUrl of BaseURL/Type/id, the
	// address the resources have on the host's FHIR endpoint. References stay
	// relative (Type/id) either way.
	BaseURL string
}

// Exchange exports referrals as FHIR bundles and applies Task updates. It is
// safe for concurrent use.
type Exchange struct {
	engine      *lifecycle.Engine
	people      People
	directory   lifecycle.Directory
	instruments *screening.Registry
	now         func() time.Time
	base        string
}

// New returns an Exchange over engine, reading the person's records from
// people and the organizations from directory: usually the store and the
// directory the engine was built on. Reads of the referral and every update go
// through the engine, so its access checks hold. A missing argument is an error
// wrapping referral.ErrInvalid.
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
	x := &Exchange{engine: engine, people: people, directory: directory, instruments: opts.Instruments, now: opts.Now, base: opts.BaseURL}
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

// Export renders the referral as a Bundle: ServiceRequest, Task, the consents
// the person gave the receiving organization, Patient, the sending and
// receiving Organizations, and the Observations of the screenings the needs
// came from. The actor must be allowed to see the referral (ErrNotFound
// otherwise), exactly as for lifecycle's Get.
//
// Only the referral's own person's screenings are rendered. Stores refuse a
// need citing anyone else's, so one can reach Export only from a store that
// breaks that contract or from a referral stored before stores checked it;
// Export leaves such a screening out rather than send one person's answers in
// another's referral, and likewise leaves out a cited screening the store no
// longer has, so the referral itself still exports.
func (x *Exchange) Export(ctx context.Context, actor referral.Actor, id referral.ID) (*Bundle, error) {
	r, err := x.engine.Get(ctx, actor, id)
	if err != nil {
		return nil, fmt.Errorf("fhir export: %w", err)
	}
	person, err := x.people.GetPerson(ctx, r.Network, r.Person)
	if err != nil {
		return nil, fmt.Errorf("fhir export: person: %w", err)
	}
	sender, err := x.directory.GetOrganization(ctx, r.Network, r.Sender)
	if err != nil {
		return nil, fmt.Errorf("fhir export: sending organization: %w", err)
	}
	receiver, err := x.directory.GetOrganization(ctx, r.Network, r.Receiver)
	if err != nil {
		return nil, fmt.Errorf("fhir export: receiving organization: %w", err)
	}
	consents, err := x.people.ListConsents(ctx, r.Network, r.Person)
	if err != nil {
		return nil, fmt.Errorf("fhir export: consents: %w", err)
	}
	now := x.now()
	b := &Bundle{ResourceType: "Bundle", Type: "collection", Timestamp: instant(now)}
	add := func(kind, id string, res any) {
		e := Entry{Resource: res}
		if x.base != "" {
			e.FullURL = x.base + "/" + kind + "/" + id
		}
		b.Entry = append(b.Entry, e)
	}

	obs, err := x.observations(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("fhir export: %w", err)
	}
	sr := serviceRequest(r)
	var fcs []*Consent
	for _, c := range consents {
		if c.Grantee != r.Receiver {
			continue
		}
		fc := consent(c, r, now)
		if c.Scope == referral.ScopeReferral {
			sr.SupportingInfo = append(sr.SupportingInfo, Reference{Reference: "Consent/" + fc.ID})
		}
		fcs = append(fcs, fc)
	}
	for i := range obs {
		sr.ReasonReference = append(sr.ReasonReference, Reference{Reference: "Observation/" + obs[i].ID})
	}
	add("ServiceRequest", sr.ID, sr)
	t := task(r)
	add("Task", t.ID, t)
	for _, fc := range fcs {
		add("Consent", fc.ID, fc)
	}
	p := patient(person)
	add("Patient", p.ID, p)
	orgs := []referral.Organization{sender, receiver}
	if sender.ID == receiver.ID {
		orgs = orgs[:1]
	}
	for _, o := range orgs {
		add("Organization", o.ID.String(), &Organization{ResourceType: "Organization", ID: o.ID.String(), Active: true, Name: o.Name})
	}
	for i := range obs {
		add("Observation", obs[i].ID, &obs[i])
	}
	return b, nil
}

// observations renders the screenings the referral's needs came from, in the
// order the needs name them, each once.
func (x *Exchange) observations(ctx context.Context, r referral.Referral) ([]Observation, error) {
	var seen []referral.ID
	var out []Observation
	for _, n := range r.Needs {
		if n.Screening.IsZero() || slices.Contains(seen, n.Screening) {
			continue
		}
		seen = append(seen, n.Screening)
		s, err := x.people.GetScreening(ctx, r.Network, n.Screening)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("screening %s: %w", n.Screening, err)
		case s.Person != r.Person || s.Network != r.Network:
			// The second line of defence: never another person's answers.
			continue
		}
		obs, err := x.screeningObservations(s)
		if err != nil {
			return nil, fmt.Errorf("screening %s: %w", n.Screening, err)
		}
		out = append(out, relevant(obs, r.Needs)...)
	}
	return out, nil
}

// relevant keeps the Observations about the referral's needs and nothing else:
// the receiver of a food referral gets the food answers, not the answers about
// mood or safety the same screening asked (minimum necessary). A kept panel
// loses its members and SDOH categories about other domains.
func relevant(obs []Observation, needs []referral.Need) []Observation {
	kept := map[string]bool{}
	var about []Observation
	for i := range obs {
		if concerns(&obs[i], needs) {
			kept["Observation/"+obs[i].ID] = true
			about = append(about, obs[i])
		}
	}
	out := about[:0]
	for _, o := range about {
		if len(o.HasMember) > 0 {
			o.HasMember = slices.DeleteFunc(slices.Clone(o.HasMember), func(m Reference) bool { return !kept[m.Reference] })
			o.Category = slices.DeleteFunc(slices.Clone(o.Category), func(c CodeableConcept) bool {
				return !hasCoding(&c, screening.SystemObservationCategory, "survey") && !concerns(&Observation{Category: []CodeableConcept{c}}, needs)
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

// screeningObservations replays a stored screening's answers through its
// instrument, so the Observations are exactly those package screening writes
// for a live response.
func (x *Exchange) screeningObservations(s referral.Screening) ([]Observation, error) {
	in, err := x.instruments.Lookup(s.Instrument)
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
	return resp.Observations(&res, s.ID.String(), "Patient/"+s.Person.String(), s.At), nil
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

func ref(kind string, id referral.ID) *Reference {
	return &Reference{Reference: kind + "/" + id.String()}
}

func version(r referral.Referral) *Meta {
	return &Meta{VersionID: strconv.FormatInt(r.Version, 10), LastUpdated: instant(r.Updated)}
}

func serviceRequest(r referral.Referral) *ServiceRequest {
	meta := version(r)
	meta.Profile = []string{ProfileServiceRequest}
	sr := &ServiceRequest{
		ResourceType: "ServiceRequest", ID: r.ID.String(), Meta: meta,
		Status: requestStatus(r.Status), Intent: "order", Priority: priority(r.Priority),
		Subject: ref("Patient", r.Person), AuthoredOn: instant(r.Created),
		Requester: ref("Organization", r.Sender), Performer: []Reference{*ref("Organization", r.Receiver)},
	}
	var names []string
	for _, n := range r.Needs {
		info, ok := referral.LookupDomain(n.Domain)
		if !ok || slices.ContainsFunc(sr.Category, func(c CodeableConcept) bool { return c.Coding[0].Code == string(n.Domain) }) {
			continue
		}
		sr.Category = append(sr.Category, CodeableConcept{Coding: []Coding{{System: info.System, Code: string(n.Domain), Display: info.Display}}})
		names = append(names, info.Display)
	}
	text := "Referral"
	if len(names) > 0 {
		text += " for " + strings.Join(names, ", ")
	}
	sr.Code = &CodeableConcept{Coding: []Coding{{System: SystemSNOMED, Code: codeReferral, Display: "Patient referral"}}, Text: text}
	return sr
}

// reasonConcept carries a reason code with its text, which the IG asks for
// whenever a Task is rejected, cancelled, on hold or failed.
func reasonConcept(code string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: SystemReason, Code: code}}, Text: code}
}

func task(r referral.Referral) *Task {
	meta := version(r)
	meta.Profile = []string{ProfileTask}
	t := &Task{
		ResourceType: "Task", ID: r.ID.String(), Meta: meta,
		Status: string(r.Status), Intent: "order", Priority: priority(r.Priority),
		Code:  &CodeableConcept{Coding: []Coding{{System: SystemTaskCode, Code: codeFulfill}}},
		Focus: ref("ServiceRequest", r.ID), For: ref("Patient", r.Person),
		AuthoredOn: instant(r.Created), LastModified: instant(r.Updated),
		Requester: ref("Organization", r.Sender), Owner: ref("Organization", r.Receiver),
	}
	if r.Reason != "" {
		t.BusinessStatus = reasonConcept(r.Reason)
		switch r.Status {
		case referral.StatusRejected, referral.StatusCancelled, referral.StatusOnHold, referral.StatusFailed:
			t.StatusReason = reasonConcept(r.Reason)
		}
	}
	if r.Outcome != nil {
		text := r.Outcome.Note
		if text == "" {
			text = r.Outcome.Code
		}
		t.Output = []TaskOutput{{
			Type:                 CodeableConcept{Coding: []Coding{{System: SystemSDOHCC, Code: codeResultingActivity}}},
			ValueCodeableConcept: &CodeableConcept{Coding: []Coding{{System: SystemOutcome, Code: r.Outcome.Code}}, Text: text},
		}}
	}
	return t
}

func consent(c referral.Consent, r referral.Referral, now time.Time) *Consent {
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
			Reference: Reference{Reference: "Organization/" + c.Grantee.String()},
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
	return &Consent{
		ResourceType: "Consent", ID: c.ID.String(), Meta: &Meta{Profile: []string{ProfileConsent}},
		Status:   status,
		Scope:    &CodeableConcept{Coding: []Coding{{System: systemConsentScope, Code: "patient-privacy"}}},
		Category: []CodeableConcept{{Coding: []Coding{{System: systemActCode, Code: "IDSCL"}}}},
		Patient:  ref("Patient", c.Person), DateTime: instant(when),
		// The referring organization took the consent and keeps the record.
		Organization:     []Reference{*ref("Organization", r.Sender)},
		SourceAttachment: consentSource(c, when),
		PolicyRule:       &CodeableConcept{Coding: []Coding{{System: systemActCode, Code: "OPTIN"}}},
		Provision:        prov,
	}
}

func patient(p referral.Person) *Patient {
	out := &Patient{ResourceType: "Patient", ID: p.ID.String(), BirthDate: p.BirthDate.String()}
	if p.GivenName != "" || p.FamilyName != "" {
		n := HumanName{Family: p.FamilyName}
		if p.GivenName != "" {
			n.Given = []string{p.GivenName}
		}
		out.Name = []HumanName{n}
	}
	return out
}

// consentSource points at the signed consent: the host's document when it
// recorded one, otherwise the consent record itself (the IG requires a source).
func consentSource(c referral.Consent, when time.Time) *Attachment {
	if c.Document != "" {
		return &Attachment{Title: "Signed consent", URL: c.Document, Creation: instant(when)}
	}
	return &Attachment{Title: "Consent recorded by the referring organization", URL: "urn:uuid:" + c.ID.String(), Creation: instant(when)}
}
