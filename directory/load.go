package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Loader is what Load needs of a store: the directory and the network it
// belongs to. Every storage.Store satisfies it; with one that implements
// storage.DirectoryFeed (all of refkit's), every write Load makes reaches the
// followers of the directory feed.
type Loader interface {
	storage.Directory
	GetNetwork(ctx context.Context, id referral.ID) (referral.Network, error)
}

// Records are a directory, or part of one, to load: what an HSDS import reads
// (interop/hsds.Load passes its dataset's).
type Records struct {
	Organizations []referral.Organization `json:"organizations"`
	Services      []referral.Service      `json:"services"`
}

// LoadOptions tune Load. The zero value loads a whole directory.
type LoadOptions struct {
	// Partial says the records are only part of the directory: those changed
	// since the last sync, as a feed fetched with modified_after serves them.
	// Load then adds and updates, and removes nothing.
	Partial bool
	// ReplaceCapacity makes the records' capacities replace what the store
	// holds. By default a stored service that tracks capacity keeps its
	// capacity: it is live data, moved by SetCapacity and by referrals
	// accepted and closed (CapacityKeeper) since the feed was published, and
	// a nightly re-import must not undo the day's accepts. A new service, or
	// one that did not track capacity, takes the records' capacity either way.
	ReplaceCapacity bool
	// Now stamps the records Load writes: Updated, and Created for a new one.
	// Nil means time.Now.
	Now func() time.Time
	// TracerProvider receives a span per Load (see the package doc's
	// Telemetry); nil means the OpenTelemetry global provider, which records
	// nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives Load's metrics; nil means the OpenTelemetry
	// global provider.
	MeterProvider metric.MeterProvider
}

// Changes lists, in id order, the records of one kind that Load added,
// updated, found unchanged and removed.
type Changes struct {
	Added     []referral.ID `json:"added,omitempty"`
	Updated   []referral.ID `json:"updated,omitempty"`
	Unchanged []referral.ID `json:"unchanged,omitempty"`
	// Removed are, for services, those a whole-directory load did not have
	// and deleted. Organizations are never removed (referrals, consents and
	// their staff's actors name them): see Absent.
	Removed []referral.ID `json:"removed,omitempty"`
	// Absent are, for organizations, those a whole-directory load did not
	// have: left in the store, their services removed.
	Absent []referral.ID `json:"absent,omitempty"`
}

// Report is what Load did.
type Report struct {
	Organizations Changes `json:"organizations"`
	Services      Changes `json:"services"`
}

// Load writes records into network's directory in store, idempotently: a
// record that is not stored is added, one that differs from the stored one is
// replaced, one that does not is left alone (and reported unchanged, so
// loading the same records twice writes nothing the second time). A whole
// directory (the default) also removes the stored services it does not have;
// a partial one (LoadOptions.Partial) removes nothing.
//
// Records are compared as what they say, not how they are stored: Created and
// Updated are left out, and the kept HSDS part is compared as JSON, since a
// store may reorder its keys (PostgreSQL's jsonb does). What the store knows
// and the records may not is kept: a service's live capacity (see
// LoadOptions.ReplaceCapacity), an organization's ConfidentialAccess when the
// records give none, Created; and Load never makes public what the store keeps
// confidential: a location, phone or contact that is confidential in the
// stored record stays so when the records have it (a location and a phone by
// id, a phone also by number, a contact by id or name).
//
// Everything is checked before anything is written: the network exists
// (ErrNotFound), every record is valid and of that network, no id repeats,
// and every service's organization is among the records or stored in the
// network (ErrInvalid, naming the record). Load is then one write per record
// that changed, organizations first; it is not one transaction, so a store
// that fails part way (ErrUnavailable) keeps the records written so far, each
// whole, and running Load again finishes the work.
func Load(ctx context.Context, store Loader, network referral.ID, records Records, opts LoadOptions) (Report, error) {
	ctx, obs := newTel(opts.TracerProvider, opts.MeterProvider).begin(ctx, "directory load", network, attrPartial.Bool(opts.Partial))
	rep, err := load(ctx, store, network, records, opts)
	obs.endLoad(ctx, &rep, err)
	return rep, err
}

// load is Load, unobserved.
func load(ctx context.Context, store Loader, network referral.ID, records Records, opts LoadOptions) (Report, error) {
	var rep Report
	if store == nil {
		return rep, referral.Invalid("store", "is required")
	}
	if err := network.Require("network_id"); err != nil {
		return rep, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if _, err := store.GetNetwork(ctx, network); err != nil {
		return rep, fmt.Errorf("directory: load: %w", err)
	}
	if err := checkRecords(network, records); err != nil {
		return rep, fmt.Errorf("directory: load: %w", err)
	}
	storedOrgs, err := allOrganizations(ctx, store, network)
	if err != nil {
		return rep, fmt.Errorf("directory: load: %w", err)
	}
	storedSvcs, err := storage.AllServices(ctx, store, network)
	if err != nil {
		return rep, fmt.Errorf("directory: load: %w", err)
	}
	orgs := make(map[referral.ID]*referral.Organization, len(storedOrgs))
	for i := range storedOrgs {
		orgs[storedOrgs[i].ID] = &storedOrgs[i]
	}
	for i, s := range records.Services {
		if !slices.ContainsFunc(records.Organizations, func(o referral.Organization) bool { return o.ID == s.Organization }) && orgs[s.Organization] == nil {
			return rep, fmt.Errorf("directory: load: %w",
				referral.Invalid("services["+strconv.Itoa(i)+"].organization_id", "names no organization of the records or the network"))
		}
	}
	at := now()
	w := &writer{ctx: ctx, store: store}

	// Organizations first: services name them.
	for _, o := range sorted(records.Organizations, organizationID) {
		old, ok := orgs[o.ID]
		next := o.Clone()
		if ok {
			next = mergeOrganization(*old, next)
			if sameOrganization(*old, next) {
				rep.Organizations.Unchanged = append(rep.Organizations.Unchanged, o.ID)
				continue
			}
			next.Created, next.Updated = old.Created, at
		} else {
			next.Created, next.Updated = orZero(next.Created, at), at
		}
		w.organization(next)
		if ok {
			rep.Organizations.Updated = append(rep.Organizations.Updated, o.ID)
		} else {
			rep.Organizations.Added = append(rep.Organizations.Added, o.ID)
		}
	}
	svcs := make(map[referral.ID]*referral.Service, len(storedSvcs))
	for i := range storedSvcs {
		svcs[storedSvcs[i].ID] = &storedSvcs[i]
	}
	for _, s := range sorted(records.Services, serviceID) {
		old, ok := svcs[s.ID]
		next := s.Clone()
		if ok {
			next = mergeService(*old, next, opts.ReplaceCapacity)
			if sameService(*old, next) {
				rep.Services.Unchanged = append(rep.Services.Unchanged, s.ID)
				continue
			}
			next.Created, next.Updated = old.Created, at
		} else {
			next.Created, next.Updated = orZero(next.Created, at), at
		}
		if err := w.service(next); err != nil {
			return rep, err
		}
		if ok {
			rep.Services.Updated = append(rep.Services.Updated, s.ID)
		} else {
			rep.Services.Added = append(rep.Services.Added, s.ID)
		}
	}
	if err := w.flush(); err != nil {
		return rep, err
	}
	if opts.Partial {
		return rep, nil
	}
	keep := make(map[referral.ID]bool, len(records.Services)+len(records.Organizations))
	for _, s := range records.Services {
		keep[s.ID] = true
	}
	for _, s := range storedSvcs {
		if keep[s.ID] {
			continue
		}
		if err := store.DeleteService(ctx, network, s.ID); err != nil {
			return rep, fmt.Errorf("directory: load: remove service %s: %w", s.ID, err)
		}
		rep.Services.Removed = append(rep.Services.Removed, s.ID)
	}
	for _, o := range records.Organizations {
		keep[o.ID] = true
	}
	for _, o := range storedOrgs {
		if !keep[o.ID] {
			rep.Organizations.Absent = append(rep.Organizations.Absent, o.ID)
		}
	}
	return rep, nil
}

// writer writes the records Load changes: in batches of up to
// storage.MaxLimit when the store writes batches (storage.DirectoryBatch),
// one write per record otherwise. Organizations come before services in both.
type writer struct {
	ctx      context.Context
	store    Loader
	orgs     []referral.Organization
	services []referral.Service
}

// organization queues an organization. Organizations are flushed with the
// first services, so they are all written before any service is.
func (w *writer) organization(o referral.Organization) { w.orgs = append(w.orgs, o) }

// service queues a service, writing a full batch.
func (w *writer) service(s referral.Service) error {
	w.services = append(w.services, s)
	if len(w.orgs)+len(w.services) >= storage.MaxLimit {
		return w.flush()
	}
	return nil
}

// flush writes what is queued.
func (w *writer) flush() error {
	batch, ok := w.store.(storage.DirectoryBatch)
	for len(w.orgs)+len(w.services) > 0 {
		if !ok {
			for _, o := range w.orgs {
				if err := w.store.PutOrganization(w.ctx, o); err != nil {
					return fmt.Errorf("directory: load: organization %s: %w", o.ID, err)
				}
			}
			for _, s := range w.services {
				if err := w.store.PutService(w.ctx, s); err != nil {
					return fmt.Errorf("directory: load: service %s: %w", s.ID, err)
				}
			}
			w.orgs, w.services = nil, nil
			return nil
		}
		orgs := w.orgs[:min(len(w.orgs), storage.MaxLimit)]
		services := w.services[:min(len(w.services), storage.MaxLimit-len(orgs))]
		if err := batch.PutDirectory(w.ctx, orgs, services); err != nil {
			return fmt.Errorf("directory: load: %w", err)
		}
		w.orgs, w.services = w.orgs[len(orgs):], w.services[len(services):]
	}
	return nil
}

// checkRecords validates the records against network before anything is
// written.
func checkRecords(network referral.ID, records Records) error {
	seen := make(map[referral.ID]bool, len(records.Organizations)+len(records.Services))
	for i, o := range records.Organizations {
		field := "organizations[" + strconv.Itoa(i) + "]"
		if err := o.Validate(); err != nil {
			return prefixed(field, err)
		}
		if o.Network != network {
			return referral.Invalid(field+".network_id", "must be the network loaded into")
		}
		if seen[o.ID] {
			return referral.Invalid(field+".id", "is a duplicate")
		}
		seen[o.ID] = true
	}
	for i, s := range records.Services {
		field := "services[" + strconv.Itoa(i) + "]"
		if err := s.Validate(); err != nil {
			return prefixed(field, err)
		}
		if s.Network != network {
			return referral.Invalid(field+".network_id", "must be the network loaded into")
		}
		if seen[s.ID] {
			return referral.Invalid(field+".id", "is a duplicate")
		}
		seen[s.ID] = true
	}
	return nil
}

// mergeOrganization returns next with what the store knows and the records
// may not: the access grants when next has none, and every phone and contact
// that is confidential in old.
func mergeOrganization(old, next referral.Organization) referral.Organization {
	if next.ConfidentialAccess == nil {
		next.ConfidentialAccess = slices.Clone(old.ConfidentialAccess)
	}
	keepPhones(old.Phones, next.Phones)
	keepContacts(old.Contacts, next.Contacts)
	return next
}

// mergeService returns next with what the store knows and the records may
// not: the live capacity (unless replace), and everything confidential in old.
func mergeService(old, next referral.Service, replace bool) referral.Service {
	if !replace && old.Capacity != nil {
		c := *old.Capacity
		if c.Unit != nil {
			u := *c.Unit
			c.Unit = &u
		}
		next.Capacity = &c
	}
	keepPhones(old.Phones, next.Phones)
	keepContacts(old.Contacts, next.Contacts)
	for i := range next.Locations {
		l := &next.Locations[i]
		if was, ok := old.Location(l.ID); ok {
			l.Confidential = l.Confidential || was.Confidential
			keepPhones(was.Phones, l.Phones)
		}
	}
	return next
}

// keepPhones marks confidential every phone of next that was confidential in
// old, matched by id or number.
func keepPhones(old, next []referral.Phone) {
	for i := range next {
		p := &next[i]
		if slices.ContainsFunc(old, func(o referral.Phone) bool {
			return o.Confidential && ((p.ID != "" && o.ID == p.ID) || o.Number == p.Number)
		}) {
			p.Confidential = true
		}
	}
}

// keepContacts marks confidential every contact of next that was confidential
// in old, matched by id or name, and keeps their phones' marks.
func keepContacts(old, next []referral.Contact) {
	for i := range next {
		c := &next[i]
		for _, o := range old {
			if (c.ID != "" && o.ID == c.ID) || (o.Name != "" && o.Name == c.Name) {
				c.Confidential = c.Confidential || o.Confidential
				keepPhones(o.Phones, c.Phones)
			}
		}
	}
}

// sameOrganization reports whether two organizations say the same, their
// times aside and their kept parts compared as JSON.
func sameOrganization(a, b referral.Organization) bool {
	a.Created, a.Updated, b.Created, b.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.HSDS, b.HSDS = sameKept(a.HSDS, b.HSDS)
	return sameJSON(a, b)
}

// sameService is sameOrganization for services.
func sameService(a, b referral.Service) bool {
	a.Created, a.Updated, b.Created, b.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.HSDS, b.HSDS = sameKept(a.HSDS, b.HSDS)
	return sameJSON(a, b)
}

// sameKept returns two kept parts ready to compare: nil both when their
// bytes are equal already (what most comparisons find), else canonical.
func sameKept(a, b json.RawMessage) (json.RawMessage, json.RawMessage) {
	if bytes.Equal(a, b) {
		return nil, nil
	}
	return canonical(a), canonical(b)
}

// sameJSON compares two records by their JSON: how a store keeps them, so
// what survives a store compares equal to what went in.
func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// canonical re-encodes kept JSON with sorted keys and its numbers as written,
// so two encodings of one value compare equal.
func canonical(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw // compared as given: a stored record is valid JSON, so this differs
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

func orZero(t, or time.Time) time.Time {
	if t.IsZero() {
		return or
	}
	return t
}

// sorted returns a copy of list in id order.
func sorted[T any](list []T, id func(T) referral.ID) []T {
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b T) int { return id(a).Compare(id(b)) })
	return out
}

func organizationID(o referral.Organization) referral.ID { return o.ID }
func serviceID(s referral.Service) referral.ID           { return s.ID }

// allOrganizations reads every page of a network's organizations.
func allOrganizations(ctx context.Context, d storage.Directory, network referral.ID) ([]referral.Organization, error) {
	var all []referral.Organization
	page := storage.Page{Limit: storage.MaxLimit}
	for {
		orgs, next, err := d.ListOrganizations(ctx, network, page)
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		all = append(all, orgs...)
		if next.IsZero() {
			return all, nil
		}
		page.After = next
	}
}

// prefixed re-roots a validation error under parent.
func prefixed(parent string, err error) error {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return referral.Invalid(parent+"."+ve.Field, ve.Problem)
	}
	return err
}
