package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// IndexOptions tune an Index. The zero value is usable.
type IndexOptions struct {
	// Matching are the options of the matching index. When its Disclose is
	// nil, the Index sets it to the organizations' own rule
	// (referral.Organization.Discloses with their ConfidentialAccess, as the
	// store holds them now).
	Matching matching.Options
	// TracerProvider receives a span per sync (see the package doc's
	// Telemetry), and, when Matching's is nil, the matching index's spans;
	// nil means the OpenTelemetry global provider, which records nothing
	// until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the sync metrics, and, when Matching's is nil,
	// the matching index's; nil means the OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// Index keeps a matching.Index of one network's directory current with a
// store: built from the store's records, then kept current by applying the
// network's directory feed, whoever wrote it, this process or another. A
// host writes the directory to the store only (Load, PutService,
// SetCapacity, or a CapacityKeeper for referrals accepted and closed), and
// every Index on the network follows.
//
// Run follows the feed, woken by the store (storage.DirectoryFeed's
// DirectoryChanged: at once for this process's writes, within the backend's
// stated delay for another process's); Sync applies what the feed holds now,
// for hosts that drive it themselves (a simulation, a test). Changes are
// applied a page at a time, in one matching update per page: a page of
// capacity changes only is the matching index's cheap capacity path, anything
// else rebuilds its snapshot (reusing compiled rules). Readers never wait:
// Match and Matching answer from the current snapshot throughout.
//
// A service the store holds but matching refuses (a rule that does not
// compile or is over its cost limit, which a host can write to a store
// directly) is left out of the index, not the whole directory: Skipped lists
// them, and a later write that fixes one brings it in.
//
// Safe for concurrent use.
type Index struct {
	f  follower
	ix *matching.Index
	// known are the services in ix, and skipped those the matcher refused,
	// with why; both change only while f.syncing is held.
	known   map[referral.ID]bool
	skipped map[referral.ID]error
	// skippedMu guards reading skipped from outside a sync.
	skippedMu sync.Mutex
	// grants are the organizations' ConfidentialAccess, replaced whole when
	// one changes, read by Disclose without a lock.
	grants atomic.Pointer[map[referral.ID][]referral.ID]
}

// NewIndex builds an Index of network's directory in store, from the
// directory feed's head: changes made after that are applied by the first
// Sync or Run. The network must exist (ErrNotFound). A cancelled ctx stops
// the build.
func NewIndex(ctx context.Context, store Store, network referral.ID, opts IndexOptions) (*Index, error) {
	x := &Index{known: map[referral.ID]bool{}, skipped: map[referral.ID]error{}}
	x.f.tel, x.f.kind = newTel(opts.TracerProvider, opts.MeterProvider), followerIndex
	if store != nil && !network.IsZero() {
		if _, err := store.GetNetwork(ctx, network); err != nil {
			return nil, fmt.Errorf("directory: index: %w", err)
		}
	}
	orgs, services, err := x.f.start(ctx, store, network)
	if err != nil {
		return nil, fmt.Errorf("directory: index: %w", err)
	}
	grants := map[referral.ID][]referral.ID{}
	for _, o := range orgs {
		if len(o.ConfidentialAccess) > 0 {
			grants[o.ID] = o.ConfidentialAccess
		}
	}
	x.grants.Store(&grants)
	mo := opts.Matching
	if mo.Disclose == nil {
		mo.Disclose = x.discloses
	}
	if mo.TracerProvider == nil {
		mo.TracerProvider = opts.TracerProvider
	}
	if mo.MeterProvider == nil {
		mo.MeterProvider = opts.MeterProvider
	}
	for {
		x.ix, err = matching.New(ctx, services, mo)
		id, refused := refusedService(err)
		if !refused {
			break
		}
		x.skipped[id] = err
		services = slices.DeleteFunc(services, func(s referral.Service) bool { return s.ID == id })
	}
	if err != nil {
		return nil, fmt.Errorf("directory: index: %w", err)
	}
	for _, s := range services {
		x.known[s.ID] = true
	}
	return x, nil
}

// refusedService returns the service a matching error names, when the error
// is about one service's rule.
func refusedService(err error) (referral.ID, bool) {
	var re *matching.RuleError
	if errors.As(err, &re) && !re.Service.IsZero() {
		return re.Service, true
	}
	return referral.NilID, false
}

// discloses is the default matching.Options.Disclose: the organization's own
// rule, with its grants as the store has them.
func (x *Index) discloses(viewer referral.Actor, org referral.ID) bool {
	grants := *x.grants.Load()
	return referral.Organization{ID: org, Network: x.f.network, ConfidentialAccess: grants[org]}.Discloses(&viewer)
}

// Matching returns the matching index, current as of the last change applied.
func (x *Index) Matching() *matching.Index { return x.ix }

// Match answers a request against the current snapshot.
func (x *Index) Match(ctx context.Context, req matching.Request) (matching.Result, error) {
	return x.ix.Match(ctx, req)
}

// Network returns the network the index follows.
func (x *Index) Network() referral.ID { return x.f.network }

// Position returns the position of the last directory change applied.
func (x *Index) Position() int64 { return x.f.position() }

// Wait blocks until the changes up to position are applied (by Sync or Run),
// or ctx ends. A writer that read the directory head after its write waits
// with it to read its own write.
func (x *Index) Wait(ctx context.Context, position int64) error { return x.f.wait(ctx, position) }

// Skipped returns the services the store holds that matching refused, with
// why (each error is a *matching.RuleError naming the service).
func (x *Index) Skipped() map[referral.ID]error {
	x.skippedMu.Lock()
	defer x.skippedMu.Unlock()
	out := make(map[referral.ID]error, len(x.skipped))
	for id, err := range x.skipped {
		out[id] = err
	}
	return out
}

// Sync applies every change the network's directory feed holds after the
// position, and returns how many it applied.
func (x *Index) Sync(ctx context.Context) (int, error) {
	n, err := x.f.sync(ctx, x.apply)
	if err != nil {
		return n, fmt.Errorf("directory: index: %w", err)
	}
	return n, nil
}

// Run applies the feed as it grows, until ctx ends (it then returns ctx's
// error, wrapped) or a read fails (it returns the error; calling Run again
// resumes from the last change applied).
func (x *Index) Run(ctx context.Context) error { return x.f.run(ctx, x.Sync) }

// apply applies one page of changes.
func (x *Index) apply(ctx context.Context, changes []storage.DirectoryChange) error {
	b := reduce(changes)
	if len(b.organizations) > 0 {
		if err := x.regrant(ctx, b.organizations); err != nil {
			return err
		}
	}
	// updates are the matching changes, with the service each is about.
	type update struct {
		service referral.ID
		change  matching.Change
	}
	var updates []update
	puts := map[referral.ID]bool{}
	for _, id := range b.services {
		s, err := x.f.store.GetService(ctx, x.f.network, id)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			if x.known[id] {
				updates = append(updates, update{id, matching.Remove(id)})
			}
			x.unskip(id)
		case err != nil:
			return err
		default:
			updates = append(updates, update{id, matching.Put(s)})
			puts[id] = true
		}
	}
	for _, c := range b.capacities {
		if x.known[c.service] {
			updates = append(updates, update{c.service, matching.SetCapacity(c.service, c.capacity)})
		}
	}
	for len(updates) > 0 {
		list := make([]matching.Change, len(updates))
		for i, u := range updates {
			list[i] = u.change
		}
		err := x.ix.Update(ctx, list...)
		id, refused := refusedService(err)
		if !refused || !puts[id] {
			if err != nil {
				return err
			}
			break
		}
		// Leave the refused service out: what the index held of it goes, and
		// a later write that fixes it brings it in.
		x.skip(id, err)
		delete(puts, id)
		updates = slices.DeleteFunc(updates, func(u update) bool { return u.service == id })
		if x.known[id] {
			updates = append(updates, update{id, matching.Remove(id)})
		}
	}
	for _, id := range b.services {
		if puts[id] {
			x.known[id] = true
			x.unskip(id)
		} else {
			delete(x.known, id)
		}
	}
	return nil
}

// regrant reads the organizations named again and replaces the grants.
func (x *Index) regrant(ctx context.Context, ids []referral.ID) error {
	grants := *x.grants.Load()
	next := make(map[referral.ID][]referral.ID, len(grants)+1)
	for id, g := range grants {
		next[id] = g
	}
	for _, id := range ids {
		o, err := x.f.store.GetOrganization(ctx, x.f.network, id)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			delete(next, id)
		case err != nil:
			return err
		case len(o.ConfidentialAccess) > 0:
			next[id] = o.ConfidentialAccess
		default:
			delete(next, id)
		}
	}
	x.grants.Store(&next)
	return nil
}

func (x *Index) skip(id referral.ID, err error) {
	x.skippedMu.Lock()
	defer x.skippedMu.Unlock()
	x.skipped[id] = err
}

func (x *Index) unskip(id referral.ID) {
	x.skippedMu.Lock()
	defer x.skippedMu.Unlock()
	delete(x.skipped, id)
}
