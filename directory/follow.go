package directory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Store is what Index and Catalog follow: a network's directory and its
// change feed. Every refkit backend satisfies it.
type Store interface {
	storage.Directory
	storage.DirectoryFeed
	GetNetwork(ctx context.Context, id referral.ID) (referral.Network, error)
}

// follower is what Index and Catalog share: the network they follow, the
// position up to which they have applied its directory feed, and the loops
// that apply it. A follower starts from the feed's head, read before the
// records it is built from (see storage.DirectoryFeed.DirectoryHead), so it
// misses no change; a change it applies that the records already showed is
// applied again, which re-reads the record and changes nothing.
type follower struct {
	store   Store
	network referral.ID
	// tel and kind observe the syncs: kind is followerIndex or
	// followerCatalog.
	tel  *tel
	kind int
	// syncing serialises syncs: changes are applied in feed order.
	syncing sync.Mutex

	mu  sync.Mutex
	pos int64
	// moved is closed when pos next moves (Wait).
	moved chan struct{}
}

// start reads the network's head, then its records.
func (f *follower) start(ctx context.Context, store Store, network referral.ID) ([]referral.Organization, []referral.Service, error) {
	if store == nil {
		return nil, nil, referral.Invalid("store", "is required")
	}
	if err := network.Require("network_id"); err != nil {
		return nil, nil, err
	}
	f.store, f.network, f.moved = store, network, make(chan struct{})
	head, err := store.DirectoryHead(ctx, network)
	if err != nil {
		return nil, nil, err
	}
	orgs, err := allOrganizations(ctx, store, network)
	if err != nil {
		return nil, nil, err
	}
	services, err := storage.AllServices(ctx, store, network)
	if err != nil {
		return nil, nil, err
	}
	f.pos = head
	return orgs, services, nil
}

// position returns the last position applied.
func (f *follower) position() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// advance records that changes up to pos are applied and wakes waiters.
func (f *follower) advance(pos int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pos > f.pos {
		f.pos = pos
		close(f.moved)
		f.moved = make(chan struct{})
	}
}

// sync applies, in order and a page at a time, every change after the
// position, and returns how many it applied.
func (f *follower) sync(ctx context.Context, apply func(context.Context, []storage.DirectoryChange) error) (int, error) {
	ctx, obs := f.tel.begin(ctx, "directory sync", f.network, attrFollower.String(followerNames[f.kind]))
	n, err := f.syncUnobserved(ctx, apply)
	obs.endSync(ctx, f.kind, n, f.position(), err)
	return n, err
}

// syncUnobserved is sync, unobserved.
func (f *follower) syncUnobserved(ctx context.Context, apply func(context.Context, []storage.DirectoryChange) error) (int, error) {
	f.syncing.Lock()
	defer f.syncing.Unlock()
	n := 0
	for {
		changes, err := f.store.DirectoryChanges(ctx, storage.DirectoryQuery{Network: f.network, After: f.position(), Limit: storage.MaxLimit})
		if err != nil {
			return n, err
		}
		if len(changes) == 0 {
			return n, nil
		}
		if err := apply(ctx, changes); err != nil {
			return n, err
		}
		n += len(changes)
		f.advance(changes[len(changes)-1].Position)
		if len(changes) < storage.MaxLimit {
			return n, nil
		}
	}
}

// run syncs, then waits for the store to say the feed moved, until ctx ends.
func (f *follower) run(ctx context.Context, sync func(context.Context) (int, error)) error {
	for {
		// Take the channel before syncing, so a change between the sync and
		// the wait still wakes the loop.
		ch, err := f.store.DirectoryChanged(ctx, f.network)
		if err != nil {
			return fmt.Errorf("directory: follow: %w", err)
		}
		if _, err := sync(ctx); err != nil {
			return fmt.Errorf("directory: follow: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("directory: follow: %w", ctx.Err())
		case <-ch:
		}
	}
}

// wait blocks until changes up to position are applied, or ctx ends.
func (f *follower) wait(ctx context.Context, position int64) error {
	for {
		f.mu.Lock()
		pos, moved := f.pos, f.moved
		f.mu.Unlock()
		if pos >= position {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("directory: wait: %w", ctx.Err())
		case <-moved:
		}
	}
}

// batch is a page of changes reduced to what applying them needs: the
// organizations and services to read again (a service written or deleted),
// and the capacities to set on services not read again, the last of each.
type batch struct {
	organizations []referral.ID
	services      []referral.ID
	capacities    []capacityChange
}

type capacityChange struct {
	service  referral.ID
	capacity *referral.Capacity
}

func reduce(changes []storage.DirectoryChange) batch {
	var b batch
	orgs := map[referral.ID]bool{}
	svcs := map[referral.ID]bool{}
	caps := map[referral.ID]int{}
	for _, c := range changes {
		switch c.Kind {
		case storage.ChangeOrganization:
			if !orgs[c.Organization] {
				orgs[c.Organization] = true
				b.organizations = append(b.organizations, c.Organization)
			}
		case storage.ChangeService, storage.ChangeServiceDeleted:
			if !svcs[c.Service] {
				svcs[c.Service] = true
				b.services = append(b.services, c.Service)
			}
		case storage.ChangeCapacity:
			if i, ok := caps[c.Service]; ok {
				b.capacities[i].capacity = c.Capacity
				continue
			}
			caps[c.Service] = len(b.capacities)
			b.capacities = append(b.capacities, capacityChange{c.Service, c.Capacity})
		}
	}
	// A service read again has its latest capacity: drop what the feed said.
	kept := b.capacities[:0]
	for _, c := range b.capacities {
		if !svcs[c.service] {
			kept = append(kept, c)
		}
	}
	b.capacities = kept
	return b
}

// defaultPoll is how often a follower of the referral feed re-reads it on a
// store that cannot notify.
const defaultPoll = time.Second
