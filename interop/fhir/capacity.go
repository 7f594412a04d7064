package fhir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// Capacity statuses of the IG's capacity page (STU3 ballot,
// input/fsh/valuesets/SDOHCCValueSetCapacityStatus.fsh), codes of
// SystemSDOHCC.
const (
	CapacityAvailable            = "capacity"
	CapacityNone                 = "no-capacity"
	CapacityWaitlist             = "waitlist"
	CapacityAssessmentRequired   = "additional-assessment-required"
	maxCapacityServices          = 100
	capacityStatusExtension      = "capacityStatus"
	capacityNotesExtension       = "capacityNotes"
	capacityNotTrackedText       = "Capacity not published"
	capacityTemporarilyClosedTxt = "The service is temporarily closed."
)

var capacityDisplays = map[string]string{
	CapacityAvailable: "Has Capacity", CapacityNone: "No Capacity", CapacityWaitlist: "No Capacity - Has Waitlist",
	CapacityAssessmentRequired: "Additional Assessment Required",
}

// Capacity answers a capacity inquiry made before a referral (the IG's
// capacity page): the services, of the actor's network, as the IG's
// HealthcareService for referral management, each with its capacity status,
// and the Organizations that provide them, in a searchset Bundle (services
// are matches, organizations includes). The inquiry names services, never a
// person, and the answer holds directory data only.
//
// The status follows the service's published capacity: open places are
// capacity; none, with room on the waiting list, waitlist; none at all,
// no-capacity (and so is a temporarily closed service, with a note). A
// service that does not track capacity has no code that fits (the binding is
// extensible): its status is the text "Capacity not published". An inactive
// or defunct service is ErrInvalid: the profile describes active services
// only. At most 100 services per inquiry.
func (x *Exchange) Capacity(ctx context.Context, actor referral.Actor, services ...referral.ID) (*Bundle, error) {
	ctx, obs := x.tel.begin(ctx, opCapacity, &actor, referral.NilID)
	b, err := x.capacity(ctx, actor, services)
	obs.endCapacity(ctx, len(services), err)
	return b, err
}

// capacity is Capacity, unobserved.
func (x *Exchange) capacity(ctx context.Context, actor referral.Actor, services []referral.ID) (*Bundle, error) {
	if err := actor.Validate(); err != nil {
		return nil, fmt.Errorf("fhir capacity: actor: %w", err)
	}
	if len(services) == 0 || len(services) > maxCapacityServices {
		return nil, fmt.Errorf("fhir capacity: %w", referral.Invalid("services", "must name 1 to 100 services"))
	}
	n := len(services)
	b := &Bundle{ResourceType: "Bundle", Type: "searchset", Timestamp: instant(x.now()), Total: &n}
	var orgs []referral.ID
	for i, id := range services {
		at := "services[" + strconv.Itoa(i) + "]"
		if slices.Contains(services[:i], id) {
			return nil, fmt.Errorf("fhir capacity: %w", referral.Invalid(at, "repeats an earlier service"))
		}
		svc, err := x.directory.GetService(ctx, actor.Network, id)
		if err != nil {
			return nil, fmt.Errorf("fhir capacity: %s: %w", at, err)
		}
		h, err := x.healthcareService(svc)
		if err != nil {
			return nil, fmt.Errorf("fhir capacity: %w", prefixed(at, err))
		}
		b.Entry = append(b.Entry, Entry{FullURL: x.fullURL("HealthcareService", h.ID), Resource: h, Search: &EntrySearch{Mode: "match"}})
		if !slices.Contains(orgs, svc.Organization) {
			orgs = append(orgs, svc.Organization)
		}
	}
	for _, id := range orgs {
		o, err := x.directory.GetOrganization(ctx, actor.Network, id)
		if err != nil {
			return nil, fmt.Errorf("fhir capacity: organization: %w", err)
		}
		e := &exporter{x: x}
		org, err := e.organization(o)
		if err != nil {
			return nil, fmt.Errorf("fhir capacity: %w", err)
		}
		b.Entry = append(b.Entry, Entry{FullURL: x.fullURL("Organization", org.ID), Resource: org, Search: &EntrySearch{Mode: "include"}})
	}
	return b, nil
}

// healthcareService renders one service with its capacity status.
func (x *Exchange) healthcareService(svc referral.Service) (*HealthcareService, error) {
	status, notes := "", ""
	switch svc.Status {
	case referral.ServiceActive:
		switch c := svc.Capacity; {
		case c == nil:
		case c.Available > 0:
			status, notes = CapacityAvailable, strconv.Itoa(c.Available)+" places open."
		case c.Waitlist > 0:
			status, notes = CapacityWaitlist, "Room for "+strconv.Itoa(c.Waitlist)+" more on the waiting list."
		default:
			status = CapacityNone
		}
	case referral.ServiceTemporarilyClosed:
		status, notes = CapacityNone, capacityTemporarilyClosedTxt
	default:
		return nil, referral.Invalid("status", "is not active: only an active service answers a capacity inquiry")
	}
	value := &CodeableConcept{Text: capacityNotTrackedText}
	if status != "" {
		value = &CodeableConcept{Coding: []Coding{{System: SystemSDOHCC, Code: status, Display: capacityDisplays[status]}}, Text: capacityDisplays[status]}
	}
	ext := Extension{URL: urlCapacityStatus, Extension: []Extension{{URL: capacityStatusExtension, ValueCodeableConcept: value}}}
	if notes != "" {
		ext.Extension = append(ext.Extension, Extension{URL: capacityNotesExtension, ValueString: notes})
	}
	id := svc.ID.String()
	category := CodeableConcept{Coding: []Coding{{System: SystemUSCoreCategory, Code: "sdoh", Display: "SDOH"}}}
	for _, d := range svc.Domains {
		if info, ok := referral.LookupDomain(d); ok {
			category.Coding = append(category.Coding, Coding{System: info.System, Code: string(d), Display: info.Display})
		}
	}
	h := &HealthcareService{
		ResourceType: "HealthcareService", ID: id, Meta: profile(ProfileHealthcareService),
		Extension:  []Extension{ext},
		Identifier: []Identifier{urnIdentifier("HealthcareService", id)},
		Active:     true, ProvidedBy: x.ref("Organization", svc.Organization.String()),
		Category: []CodeableConcept{category},
		Type:     []CodeableConcept{{Text: svc.Name}},
		Name:     svc.Name,
		Text:     narrative(svc.Name+": "+value.Text, notes),
	}
	if svc.Email != "" {
		h.Telecom = append(h.Telecom, ContactPoint{System: "email", Value: svc.Email, Use: "work"})
	}
	if svc.URL != "" {
		h.Telecom = append(h.Telecom, ContactPoint{System: "url", Value: svc.URL, Use: "work"})
	}
	return h, nil
}

// capacityStatus returns a HealthcareService's capacity status, or nil.
func capacityStatus(h *HealthcareService) *CodeableConcept {
	for _, e := range h.Extension {
		if e.URL != urlCapacityStatus {
			continue
		}
		for _, sub := range e.Extension {
			if sub.URL == capacityStatusExtension && sub.ValueCodeableConcept != nil {
				return sub.ValueCodeableConcept
			}
		}
	}
	return nil
}

// prefixed re-roots a validation error under parent.
func prefixed(parent string, err error) error {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return referral.Invalid(parent+"."+ve.Field, ve.Problem)
	}
	return err
}
