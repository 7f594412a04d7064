package memory

import (
	"context"
	"sort"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// directoryFeed is one network's directory feed: every change in append
// order, which is position order. Changes are small and few beside events
// (a directory changes far less often than its referrals), so they are kept
// as values. Callers hold the store's write lock to change it, the read lock
// to read it.
type directoryFeed struct {
	changes []storage.DirectoryChange
	last    int64
	// cause is the network's capacity cursor (storage.DirectoryFeed.CapacityCursor).
	cause int64
	// appended is closed at the next append; nil while nobody waits.
	appended chan struct{}
}

// append records c at the next position and wakes followers.
func (f *directoryFeed) append(c storage.DirectoryChange) {
	f.last++
	c.Position = f.last
	f.changes = append(f.changes, c)
	f.wake()
}

// wake closes the channel followers wait on, if any.
func (f *directoryFeed) wake() {
	if f.appended != nil {
		close(f.appended)
		f.appended = nil
	}
}

// SetCapacity replaces a service's capacity and records the change.
func (s *Store) SetCapacity(ctx context.Context, network, service referral.ID, c *referral.Capacity) error {
	validate := func() error { return storage.CheckCapacity(network, service, c) }
	return s.write(ctx, validate, func() error {
		svc, err := s.services.find(network, service)
		if err != nil {
			return err
		}
		s.setCapacity(svc, cloneCapacity(c))
		return nil
	})
}

// setCapacity stores svc (the stored record, not a copy) with capacity c and
// appends the change. Callers hold the write lock and have found svc.
func (s *Store) setCapacity(svc referral.Service, c *referral.Capacity) {
	next := svc.Clone()
	next.Capacity = c
	s.services.rows[svc.ID] = next // the table's own copy: replaced, never written to
	s.networks[svc.Network].directory.append(storage.DirectoryChange{
		Network: svc.Network, Kind: storage.ChangeCapacity, Organization: svc.Organization, Service: svc.ID,
		Capacity: cloneCapacity(c),
	})
}

// AdjustCapacity moves a service's available places once per cause.
func (s *Store) AdjustCapacity(ctx context.Context, a storage.CapacityAdjustment) (bool, error) {
	applied := false
	validate := func() error { return storage.CheckCapacityAdjustment(a) }
	err := s.writeIn(ctx, validate, a.Network, func() error {
		feed := &s.networks[a.Network].directory
		svc, err := s.services.find(a.Network, a.Service)
		if err != nil {
			return err
		}
		if a.Cause <= feed.cause {
			return nil
		}
		feed.cause = a.Cause
		if svc.Capacity == nil {
			return nil
		}
		c := *svc.Capacity
		c.Unit = cloneUnit(c.Unit)
		c.Available = adjusted(c.Available, a.Delta, c.Maximum)
		if !a.At.IsZero() {
			c.Updated = a.At
		}
		s.setCapacity(svc, &c)
		applied = true
		return nil
	})
	return applied, err
}

// adjusted is available moved by delta within [0, maximum]; a maximum of 0
// sets no upper bound.
func adjusted(available, delta, maximum int) int {
	v := available + delta
	if maximum > 0 && v > maximum {
		v = maximum
	}
	return max(v, 0)
}

// CapacityCursor returns the network's capacity cursor.
func (s *Store) CapacityCursor(ctx context.Context, network referral.ID) (int64, error) {
	var cause int64
	err := s.read(ctx, func() error {
		n, err := s.network(network)
		if err == nil {
			cause = n.directory.cause
		}
		return err
	})
	return cause, err
}

// DirectoryChanges returns the network's directory changes after q.After.
func (s *Store) DirectoryChanges(ctx context.Context, q storage.DirectoryQuery) ([]storage.DirectoryChange, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	limit, err := storage.CheckDirectoryQuery(q)
	if err != nil {
		return nil, err
	}
	var out []storage.DirectoryChange
	err = s.view(func() error {
		n, ok := s.networks[q.Network]
		if !ok {
			return nil
		}
		list := n.directory.changes
		start := sort.Search(len(list), func(i int) bool { return list[i].Position > q.After })
		end := min(len(list), start+limit)
		out = make([]storage.DirectoryChange, 0, end-start)
		for _, c := range list[start:end] {
			c.Capacity = cloneCapacity(c.Capacity)
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// DirectoryChanged returns a channel closed at the network's next directory
// change (or when the store closes), implementing storage.DirectoryFeed.
func (s *Store) DirectoryChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	n, err := s.network(network)
	if err != nil {
		return nil, err
	}
	if n.directory.appended == nil {
		n.directory.appended = make(chan struct{})
	}
	return n.directory.appended, nil
}

func cloneCapacity(c *referral.Capacity) *referral.Capacity {
	if c == nil {
		return nil
	}
	out := *c
	out.Unit = cloneUnit(c.Unit)
	return &out
}

func cloneUnit(u *referral.Unit) *referral.Unit {
	if u == nil {
		return nil
	}
	out := *u
	return &out
}

// DirectoryHead returns the position of the network's last directory change.
func (s *Store) DirectoryHead(ctx context.Context, network referral.ID) (int64, error) {
	var head int64
	err := s.read(ctx, func() error {
		n, err := s.network(network)
		if err == nil {
			head = n.directory.last
		}
		return err
	})
	return head, err
}

// PutDirectory writes organizations then services, and their changes, in one
// write under the lock: everything is checked before anything is stored.
func (s *Store) PutDirectory(ctx context.Context, orgs []referral.Organization, services []referral.Service) error {
	validate := func() error { return storage.CheckDirectoryBatch(orgs, services) }
	if len(orgs)+len(services) == 0 {
		return s.write(ctx, validate, func() error { return nil })
	}
	network := networkOf(orgs, services)
	return s.writeIn(ctx, validate, network, func() error {
		// Each record is checked as PutOrganization and PutService check it,
		// in the order given, before anything is stored.
		batch := make(map[referral.ID]bool, len(orgs))
		for _, o := range orgs {
			if old, ok := s.orgs.rows[o.ID]; ok && old.Network != network {
				return conflict("organization", o.ID, "belongs to another network")
			}
			batch[o.ID] = true
		}
		for _, svc := range services {
			if old, ok := s.services.rows[svc.ID]; ok && old.Network != network {
				return conflict("service", svc.ID, "belongs to another network")
			}
			if !batch[svc.Organization] {
				if _, err := s.orgs.find(network, svc.Organization); err != nil {
					return err
				}
			}
		}
		feed := &s.networks[network].directory
		for _, o := range orgs {
			if _, _, err := s.orgs.put(o.ID, o); err != nil {
				return err // checked above: not reached
			}
			feed.append(storage.DirectoryChange{Network: network, Kind: storage.ChangeOrganization, Organization: o.ID})
		}
		for _, svc := range services {
			if _, _, err := s.services.put(svc.ID, svc); err != nil {
				return err // checked above: not reached
			}
			feed.append(storage.DirectoryChange{Network: network, Kind: storage.ChangeService, Organization: svc.Organization, Service: svc.ID})
		}
		return nil
	})
}

// networkOf is the network of a batch's records (CheckDirectoryBatch made
// them agree).
func networkOf(orgs []referral.Organization, services []referral.Service) referral.ID {
	if len(orgs) > 0 {
		return orgs[0].Network
	}
	return services[0].Network
}
