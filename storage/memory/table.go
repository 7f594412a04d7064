package memory

import (
	"context"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// table holds one kind of directory record by id, with an optional ordered index
// for listings. A stored record is replaced, never written to, so a reader may
// copy it out after releasing the lock. Its methods expect the store's lock held.
type table[T any] struct {
	kind string // names the record in errors
	rows map[referral.ID]T
	// network returns the network a record belongs to; a record looked up in
	// another network is not found.
	network func(T) referral.ID
	// clone deep-copies a record crossing the store's boundary; nil for records
	// made of values only, which a plain copy separates.
	clone func(T) T
	// listBy, when not nil, returns the key a record is listed under (its network,
	// or its person), and lists holds each key's ids in order.
	listBy func(T) referral.ID
	lists  map[referral.ID]*ordered[referral.ID]
}

// newTable returns an empty table of kind; listBy and clone may be nil (see table).
func newTable[T any](kind string, network, listBy func(T) referral.ID, clone func(T) T) table[T] {
	return table[T]{
		kind:    kind,
		rows:    make(map[referral.ID]T),
		network: network,
		clone:   clone,
		listBy:  listBy,
		lists:   make(map[referral.ID]*ordered[referral.ID]),
	}
}

// copy returns v separated from the stored record.
func (t *table[T]) copy(v T) T {
	if t.clone == nil {
		return v
	}
	return t.clone(v)
}

// find returns the stored record (not a copy), or ErrNotFound when there is none
// in network.
func (t *table[T]) find(network, id referral.ID) (T, error) {
	v, ok := t.rows[id]
	if !ok || t.network(v) != network {
		var zero T
		return zero, notFound(t.kind, id)
	}
	return v, nil
}

// put stores a copy of v under id and returns the record it replaced, if any. An
// id already used in another network is ErrConflict.
func (t *table[T]) put(id referral.ID, v T) (old T, replaced bool, err error) {
	old, replaced = t.rows[id]
	if replaced && t.network(old) != t.network(v) {
		return old, false, conflict(t.kind, id, "belongs to another network")
	}
	t.rows[id] = t.copy(v)
	if t.listBy != nil {
		if replaced && t.listBy(old) != t.listBy(v) {
			unset(t.lists, t.listBy(old), id)
		}
		set(t.lists, t.listBy(v)).insert(id)
	}
	return old, replaced, nil
}

// add stores a copy of an immutable record v; any existing id is ErrConflict.
func (t *table[T]) add(id referral.ID, v T) error {
	if _, ok := t.rows[id]; ok {
		return conflict(t.kind, id, "already exists")
	}
	_, _, err := t.put(id, v)
	return err
}

// remove deletes the record, or returns ErrNotFound when there is none in network.
func (t *table[T]) remove(network, id referral.ID) error {
	v, err := t.find(network, id)
	if err != nil {
		return err
	}
	delete(t.rows, id)
	if t.listBy != nil {
		unset(t.lists, t.listBy(v), id)
	}
	return nil
}

// page returns copies of up to limit records listed under key with ids above
// after, and the next cursor (see page).
func (t *table[T]) page(key, after referral.ID, limit int) ([]T, referral.ID) {
	return page(t.lists[key], after, limit, func(id referral.ID) (T, bool) {
		return t.copy(t.rows[id]), true
	})
}

// listed returns copies of the records of network listed under key, in id order;
// nil when there are none.
func (t *table[T]) listed(key, network referral.ID) []T {
	var out []T
	for id := range t.lists[key].all() {
		if v := t.rows[id]; t.network(v) == network {
			out = append(out, t.copy(v))
		}
	}
	return out
}

// drop releases the records; the store is closed and never reads them again.
func (t *table[T]) drop() {
	t.rows, t.lists = nil, nil
}

// get returns a copy of the record id of network, made outside the lock.
func get[T any](ctx context.Context, s *Store, t *table[T], network, id referral.ID) (T, error) {
	var v T
	err := s.read(ctx, func() (err error) {
		v, err = t.find(network, id)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return t.copy(v), nil
}

// list pages through the records t lists under network, in id order.
func list[T any](ctx context.Context, s *Store, t *table[T], network referral.ID, p storage.Page) ([]T, referral.ID, error) {
	limit, err := listing(ctx, network, p)
	if err != nil {
		return nil, referral.NilID, err
	}
	var (
		out  []T
		next referral.ID
	)
	err = s.view(func() error {
		// An unknown network lists nothing (nil), a known but empty one an empty page.
		if _, ok := s.networks[network]; ok {
			out, next = t.page(network, p.After, limit)
		}
		return nil
	})
	return out, next, err
}

// The accessors the tables are built from.
func organizationNetwork(o referral.Organization) referral.ID { return o.Network }
func serviceNetwork(s referral.Service) referral.ID           { return s.Network }
func personNetwork(p referral.Person) referral.ID             { return p.Network }
func consentNetwork(c referral.Consent) referral.ID           { return c.Network }
func screeningNetwork(s referral.Screening) referral.ID       { return s.Network }
func screeningPerson(s referral.Screening) referral.ID        { return s.Person }
