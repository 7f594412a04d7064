package directory

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Catalog keeps an in-memory copy of one network's directory, its
// organizations and services whole, current with a store the way Index keeps
// a matching index current: built from the records at the feed's head, then
// following the directory feed (Run, or Sync). It is what a reader that pages,
// counts, filters or searches the whole directory reads from (the HSDS API in
// package interop/hsds serves from one), so that no request reads the store.
//
// Records are held as the store has them, confidential parts included: a
// reader that shows them to someone decides what to show
// (referral.Organization.Discloses, Service.Redacted). The iterators hold the
// catalog's read lock while they run: a loop over one must not call the
// catalog, keep a record it yields past its iteration, or change it.
//
// Safe for concurrent use.
type Catalog struct {
	f follower

	mu       sync.RWMutex
	orgs     map[referral.ID]*referral.Organization
	orgIDs   []referral.ID // sorted
	services map[referral.ID]*referral.Service
	svcIDs   []referral.ID // sorted
	// revision counts the pages applied that replaced or removed a record.
	revision uint64
}

// NewCatalog builds a Catalog of network's directory in store, from the
// directory feed's head. The network must exist (ErrNotFound).
func NewCatalog(ctx context.Context, store Store, network referral.ID) (*Catalog, error) {
	c := &Catalog{orgs: map[referral.ID]*referral.Organization{}, services: map[referral.ID]*referral.Service{}}
	// NewCatalog takes no options: a catalog reports to the global providers.
	c.f.tel, c.f.kind = newTel(nil, nil), followerCatalog
	if store != nil && !network.IsZero() {
		if _, err := store.GetNetwork(ctx, network); err != nil {
			return nil, fmt.Errorf("directory: catalog: %w", err)
		}
	}
	orgs, services, err := c.f.start(ctx, store, network)
	if err != nil {
		return nil, fmt.Errorf("directory: catalog: %w", err)
	}
	for i := range orgs {
		c.orgs[orgs[i].ID] = &orgs[i]
		c.orgIDs = append(c.orgIDs, orgs[i].ID)
	}
	for i := range services {
		c.services[services[i].ID] = &services[i]
		c.svcIDs = append(c.svcIDs, services[i].ID)
	}
	// Listings come in id order already; sort in case a host's store does not.
	slices.SortFunc(c.orgIDs, referral.ID.Compare)
	slices.SortFunc(c.svcIDs, referral.ID.Compare)
	return c, nil
}

// Network returns the network the catalog follows.
func (c *Catalog) Network() referral.ID { return c.f.network }

// Position returns the position of the last directory change applied.
func (c *Catalog) Position() int64 { return c.f.position() }

// Wait blocks until the changes up to position are applied, or ctx ends.
func (c *Catalog) Wait(ctx context.Context, position int64) error { return c.f.wait(ctx, position) }

// Sync applies every change the feed holds after the position, and returns
// how many it applied.
func (c *Catalog) Sync(ctx context.Context) (int, error) {
	n, err := c.f.sync(ctx, c.apply)
	if err != nil {
		return n, fmt.Errorf("directory: catalog: %w", err)
	}
	return n, nil
}

// Run applies the feed as it grows, until ctx ends or a read fails (see
// Index.Run).
func (c *Catalog) Run(ctx context.Context) error { return c.f.run(ctx, c.Sync) }

// Revision counts the syncs that replaced or removed a record; a sync that
// changed capacities only leaves it as it was. A reader that derives
// something from the records but not their capacities (package hsds's
// taxonomy index) rebuilds it when the revision moves.
func (c *Catalog) Revision() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.revision
}

// Len returns how many organizations and services the catalog holds.
func (c *Catalog) Len() (organizations, services int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.orgIDs), len(c.svcIDs)
}

// Organization returns a copy of the organization, if the catalog has it.
func (c *Catalog) Organization(id referral.ID) (referral.Organization, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.orgs[id]
	if !ok {
		return referral.Organization{}, false
	}
	return o.Clone(), true
}

// Service returns a copy of the service, if the catalog has it.
func (c *Catalog) Service(id referral.ID) (referral.Service, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.services[id]
	if !ok {
		return referral.Service{}, false
	}
	return s.Clone(), true
}

// Organizations yields the organizations in id order, under the catalog's
// read lock (see the type's doc for what a loop may do).
func (c *Catalog) Organizations() iter.Seq[*referral.Organization] {
	return func(yield func(*referral.Organization) bool) {
		c.mu.RLock()
		defer c.mu.RUnlock()
		for _, id := range c.orgIDs {
			if !yield(c.orgs[id]) {
				return
			}
		}
	}
}

// Services yields the services in id order, under the catalog's read lock
// (see the type's doc for what a loop may do).
func (c *Catalog) Services() iter.Seq[*referral.Service] {
	return func(yield func(*referral.Service) bool) {
		c.mu.RLock()
		defer c.mu.RUnlock()
		for _, id := range c.svcIDs {
			if !yield(c.services[id]) {
				return
			}
		}
	}
}

// apply applies one page of changes: the records it names are read again
// from the store, outside the lock, and swapped in under it.
func (c *Catalog) apply(ctx context.Context, changes []storage.DirectoryChange) error {
	b := reduce(changes)
	orgs := make(map[referral.ID]*referral.Organization, len(b.organizations))
	for _, id := range b.organizations {
		o, err := c.f.store.GetOrganization(ctx, c.f.network, id)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			orgs[id] = nil
		case err != nil:
			return err
		default:
			orgs[id] = &o
		}
	}
	svcs := make(map[referral.ID]*referral.Service, len(b.services))
	for _, id := range b.services {
		s, err := c.f.store.GetService(ctx, c.f.network, id)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			svcs[id] = nil
		case err != nil:
			return err
		default:
			svcs[id] = &s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(orgs)+len(svcs) > 0 {
		c.revision++
	}
	for id, o := range orgs {
		c.orgIDs = replace(c.orgs, c.orgIDs, id, o)
	}
	for id, s := range svcs {
		c.svcIDs = replace(c.services, c.svcIDs, id, s)
	}
	for _, cc := range b.capacities {
		if s, ok := c.services[cc.service]; ok {
			// Records are replaced, never written to: a reader may hold the old one.
			next := s.Clone()
			next.Capacity = cc.capacity
			c.services[cc.service] = &next
		}
	}
	return nil
}

// replace puts v (nil: removes) under id in m, keeping ids sorted, and
// returns ids.
func replace[T any](m map[referral.ID]*T, ids []referral.ID, id referral.ID, v *T) []referral.ID {
	i, found := slices.BinarySearchFunc(ids, id, referral.ID.Compare)
	switch {
	case v == nil && found:
		delete(m, id)
		return slices.Delete(ids, i, i+1)
	case v == nil:
		return ids
	case !found:
		ids = slices.Insert(ids, i, id)
	}
	m[id] = v
	return ids
}
