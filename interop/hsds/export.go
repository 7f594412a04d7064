package hsds

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
)

// exporter turns refkit records into wire records.
type exporter struct {
	ds   *Dataset
	orgs map[referral.ID]*wireOrganization
}

// src is the HSDS id to write for a refkit ID: the source id it was derived from,
// or the ID itself.
func (e *exporter) src(id referral.ID) string {
	if s, ok := e.ds.Sources[id]; ok {
		return s
	}
	return id.String()
}

// sub mints the id of a record refkit does not keep (a service_at_location, an
// attribute): derived from its owner and what it holds, so repeated exports agree.
func sub(owner referral.ID, record, key string) string {
	return derive(owner, record, key).String()
}

// exportServices maps and validates a dataset for the writers; orgs lists every
// organization in dataset order.
func exportServices(ctx context.Context, ds *Dataset) (services []wireService, orgs []*wireOrganization, err error) {
	if ds == nil {
		return nil, nil, referral.Invalid("dataset", "is required")
	}
	e := &exporter{ds: ds, orgs: make(map[referral.ID]*wireOrganization, len(ds.Organizations))}
	for i, o := range ds.Organizations {
		if err := o.Validate(); err != nil {
			return nil, nil, prefixed("organizations["+strconv.Itoa(i)+"]", err)
		}
		w := &wireOrganization{
			ID: e.src(o.ID), Name: o.Name, AlternateName: o.AlternateName,
			Description: o.Description, Email: o.Email, Website: o.Website,
		}
		if o.Phone != "" {
			w.Phones = []wirePhone{{ID: sub(o.ID, "phone", o.Phone), Number: o.Phone}}
		}
		if _, dup := e.orgs[o.ID]; dup {
			return nil, nil, referral.Invalid("organizations["+strconv.Itoa(i)+"].id", "is a duplicate")
		}
		e.orgs[o.ID] = w
		orgs = append(orgs, w)
	}
	services = make([]wireService, 0, len(ds.Services))
	for i, s := range ds.Services {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		field := "services[" + strconv.Itoa(i) + "]"
		if err := s.Validate(); err != nil {
			return nil, nil, prefixed(field, err)
		}
		org, ok := e.orgs[s.Organization]
		if !ok {
			return nil, nil, referral.Invalid(field+".organization_id", "refers to no organization in the dataset")
		}
		services = append(services, e.service(s, org))
	}
	return services, orgs, nil
}

func (e *exporter) service(s referral.Service, org *wireOrganization) wireService {
	w := wireService{
		ID: e.src(s.ID), OrganizationID: org.ID, Name: s.Name, AlternateName: s.AlternateName,
		Description: s.Description, URL: s.URL, Email: s.Email, Status: string(s.Status),
		EligibilityDescription: s.EligibilityDescription, Organization: org,
	}
	if s.MinimumAge > 0 {
		v := float64(s.MinimumAge)
		w.MinimumAge = &v
	}
	if s.MaximumAge > 0 {
		v := float64(s.MaximumAge)
		w.MaximumAge = &v
	}
	for _, l := range s.Locations {
		lat, lon := l.Latitude, l.Longitude
		loc := &wireLocation{
			ID: e.src(l.ID), LocationType: "physical", Name: l.Name, Description: l.Description,
			Latitude: &lat, Longitude: &lon,
		}
		if a := l.Address; a != nil {
			loc.Addresses = []wireAddress{{
				ID: sub(l.ID, "address", ""), LocationID: loc.ID, Address1: a.Address1, Address2: a.Address2,
				City: a.City, Region: a.Region, StateProvince: a.StateProvince, PostalCode: a.PostalCode,
				Country: a.Country, AddressType: "physical",
			}}
		}
		w.ServiceAtLocations = append(w.ServiceAtLocations, wireServiceAtLocation{
			ID: sub(s.ID, "service_at_location", l.ID.String()), ServiceID: w.ID, LocationID: loc.ID, Location: loc,
		})
	}
	for i, a := range s.ServiceAreas {
		extent, kind := extentOf(a)
		w.ServiceAreas = append(w.ServiceAreas, wireServiceArea{
			ID: sub(s.ID, "service_area", strconv.Itoa(i)), Name: areaName(a), Extent: extent, ExtentType: kind,
		})
	}
	for _, l := range s.Languages {
		w.Languages = append(w.Languages, wireLanguage{ID: sub(s.ID, "language", l), Code: l})
	}
	for i, sc := range s.Schedules {
		w.Schedules = append(w.Schedules, wireSchedule{
			ID: sub(s.ID, "schedule", strconv.Itoa(i)), Freq: "WEEKLY", Interval: ptr(1),
			Byday: strings.Join(sc.ByDay, ","), OpensAt: sc.OpensAt, ClosesAt: sc.ClosesAt,
			Timezone: zoneOffset(sc.Timezone),
		})
	}
	for _, d := range s.Domains {
		t := domainTerm(d)
		w.Attributes = append(w.Attributes, wireAttribute{
			ID: sub(s.ID, "attribute", string(d)), TaxonomyTermID: t.ID, TaxonomyTerm: t,
		})
	}
	if s.Eligibility != "" {
		t := ruleTerm()
		w.Attributes = append(w.Attributes, wireAttribute{
			ID: sub(s.ID, "attribute", ruleCode), TaxonomyTermID: t.ID, Value: s.Eligibility, TaxonomyTerm: t,
		})
	}
	return w
}

// domainTerm is the taxonomy term refkit writes for a domain: its code in its code
// system, which the importer maps back to the domain without a TaxonomyMap.
func domainTerm(d referral.Domain) *wireTerm {
	info, _ := referral.LookupDomain(d)
	return &wireTerm{
		ID:   derive(referral.NilID, "taxonomy_term", info.System+"|"+string(d)).String(),
		Code: string(d), Name: info.Display, Description: info.Display + " (SDOH domain)", Taxonomy: info.System,
	}
}

func ruleTerm() *wireTerm {
	return &wireTerm{
		ID:   derive(referral.NilID, "taxonomy_term", RuleTaxonomy+"|"+ruleCode).String(),
		Code: ruleCode, Name: "Eligibility rule",
		Description: "A refkit eligibility rule: an expr expression over the person's facts, in the attribute value",
		Taxonomy:    RuleTaxonomy,
	}
}

// zones caches loaded zones: time.LoadLocation reads the zone database on every
// call, and an export converts one zone per schedule.
var zones sync.Map

func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

func ptr(v float64) *float64 { return &v }

// zoneOffset is the HSDS timezone (UTC offset in hours) of an IANA zone. HSDS has
// no daylight saving time, so a zone that observes it is written with its standard
// (smaller) offset of 2025; nil means UTC, HSDS's default.
func zoneOffset(name string) *float64 {
	if name == "" {
		return nil
	}
	loc, err := loadZone(name)
	if err != nil {
		return nil
	}
	_, jan := time.Date(2025, time.January, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2025, time.July, 1, 12, 0, 0, 0, loc).Zone()
	hours := float64(min(jan, jul)) / 3600
	return ptr(math.Round(hours*100) / 100)
}

// prefixed re-roots a validation error under parent ("services[3].name").
func prefixed(parent string, err error) error {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return referral.Invalid(parent+"."+ve.Field, ve.Problem)
	}
	return err
}
