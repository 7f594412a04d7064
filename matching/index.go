package matching

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/refkit/refkit/matching/internal/reference"
	"github.com/refkit/refkit/referral"
)

// Index holds the current Snapshot of a directory. Readers take the snapshot with
// one atomic load and never block; Update builds a new snapshot and swaps it in, so
// a request sees the directory either wholly before or wholly after an update.
// Safe for concurrent use.
type Index struct {
	opts    Options
	tel     *tel
	rules   *rules
	current atomic.Pointer[Snapshot]
	writer  sync.Mutex // serializes updates; readers never take it
}

// New compiles the services' rules and builds the first snapshot. A bad service is
// rejected with a *referral.ValidationError naming the field, a bad rule with a
// *RuleError naming the service. A done ctx stops it between two services and
// returns ctx.Err().
func New(ctx context.Context, services []referral.Service, opts Options) (*Index, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ix := &Index{opts: opts, rules: newRules(opts.Limits), tel: newTel(opts)}
	snap, err := build(ctx, services, opts, ix.rules)
	if err != nil {
		return nil, err
	}
	snap.tel = ix.tel
	ix.current.Store(snap)
	return ix, nil
}

// Snapshot returns the current snapshot.
func (ix *Index) Snapshot() *Snapshot { return ix.current.Load() }

// Match answers a request against the current snapshot.
func (ix *Index) Match(ctx context.Context, req Request) (Result, error) {
	return ix.current.Load().Match(ctx, req)
}

// Change is one update to the directory: see Put, Remove and SetCapacity.
type Change struct {
	put      *referral.Service
	remove   referral.ID
	capacity *referral.Capacity
	setCap   bool
}

// Put adds a service or replaces the one with the same id.
func Put(s referral.Service) Change {
	c := s.Clone()
	return Change{put: &c}
}

// Remove removes the service with id.
func Remove(id referral.ID) Change { return Change{remove: id} }

// SetCapacity replaces a service's published capacity; nil stops tracking it.
func SetCapacity(id referral.ID, c *referral.Capacity) Change {
	ch := Change{remove: id, setCap: true}
	if c != nil {
		cp := *c
		ch.capacity = &cp
	}
	return ch
}

// Update applies changes in order and swaps in the resulting snapshot. Either all
// changes apply or none do. Capacity-only updates copy a few small nodes of the
// capacity table and share the rest of the snapshot; other changes rebuild it,
// reusing compiled rules. A done ctx stops a rebuild between two services and
// returns ctx.Err(), leaving the index as it was.
func (ix *Index) Update(ctx context.Context, changes ...Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, obs := ix.tel.beginUpdate(ctx, len(changes))
	kind, err := ix.update(ctx, changes)
	obs.end(ctx, kind, len(ix.current.Load().source), err)
	return err
}

// update is Update, unobserved; it returns the kind of update it made.
func (ix *Index) update(ctx context.Context, changes []Change) (int, error) {
	ix.writer.Lock()
	defer ix.writer.Unlock()
	cur := ix.current.Load()
	capOnly := true
	for _, ch := range changes {
		if !ch.setCap {
			capOnly = false
		}
	}
	if capOnly {
		next, err := cur.withCapacities(changes)
		if err != nil {
			return updateCapacity, err
		}
		ix.current.Store(next)
		return updateCapacity, nil
	}
	services := make([]referral.Service, len(cur.source))
	pos := make(map[referral.ID]int, len(services))
	for i := range cur.source {
		services[i] = cur.record(i)
		pos[services[i].ID] = i
	}
	removed := map[referral.ID]bool{}
	for i, ch := range changes {
		switch {
		case ch.put != nil:
			if j, ok := pos[ch.put.ID]; ok {
				services[j] = *ch.put
			} else {
				pos[ch.put.ID] = len(services)
				services = append(services, *ch.put)
			}
			delete(removed, ch.put.ID)
		default:
			j, ok := pos[ch.remove]
			if !ok || removed[ch.remove] {
				return updateRebuild, fmt.Errorf("matching: changes[%d]: service %s: %w", i, ch.remove, referral.ErrNotFound)
			}
			if ch.setCap {
				services[j].Capacity = ch.capacity
			} else {
				removed[ch.remove] = true
			}
		}
	}
	if len(removed) > 0 {
		services = slices.DeleteFunc(services, func(s referral.Service) bool { return removed[s.ID] })
	}
	next, err := build(ctx, services, ix.opts, ix.rules)
	if err != nil {
		return updateRebuild, err
	}
	next.tel = ix.tel
	ix.current.Store(next)
	return updateRebuild, nil
}

// withCapacities returns a copy of s with new capacities, sharing everything else:
// only the capacity table's paths to the changed services are copied (see
// capTable), so an update costs the same whatever the directory's size.
func (s *Snapshot) withCapacities(changes []Change) (*Snapshot, error) {
	for i, ch := range changes {
		if _, ok := s.byID[ch.remove]; !ok {
			return nil, fmt.Errorf("matching: changes[%d]: service %s: %w", i, ch.remove, referral.ErrNotFound)
		}
		if ch.capacity != nil && (ch.capacity.Available < 0 || ch.capacity.Waitlist < 0) {
			return nil, invalidf(fmt.Sprintf("changes[%d].capacity", i), "must not be negative")
		}
	}
	edit := s.caps.edit()
	for _, ch := range changes {
		edit.set(s.byID[ch.remove], ch.capacity)
	}
	next := &Snapshot{
		opts: s.opts, rules: s.rules, byID: s.byID, domains: s.domains, programs: s.programs,
		langSets: s.langSets, domLists: s.domLists, grid: s.grid,
		counties: s.counties, zips: s.zips, states: s.states, polygons: s.polygons, virtual: s.virtual,
		source: s.source, services: s.services, statuses: s.statuses, caps: edit.next, ids: s.ids, orgs: s.orgs,
		scratch: s.scratch, secret: s.secret, tel: s.tel,
	}
	return next, nil
}

func init() {
	reference.Scan = func(s *Snapshot, ctx context.Context, req Request) (Result, error) { return s.scan(ctx, req) }
}
