package directory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// KeeperStore is what a CapacityKeeper needs: the referral feed it follows,
// the referrals it reads the service of, and the capacity writes of the
// directory feed. Every refkit backend satisfies it.
type KeeperStore interface {
	storage.DirectoryFeed
	Feed(ctx context.Context, q storage.FeedQuery) ([]referral.Event, error)
	GetReferral(ctx context.Context, network, id referral.ID) (referral.Referral, error)
}

// KeeperOptions tune a CapacityKeeper. The zero value is usable.
type KeeperOptions struct {
	// After is where the keeper starts in the referral feed when the store has
	// no capacity cursor for the network yet (storage.DirectoryFeed's
	// CapacityCursor is 0): 0 counts every referral the feed holds. A host
	// that starts keeping capacity on a network with referrals already
	// accepted, whose capacities already count them, passes the feed's
	// current position.
	After int64
	// PollInterval is how often Run re-reads the referral feed on a store
	// that cannot notify (storage.FeedNotifier); zero means one second.
	PollInterval time.Duration
	// TracerProvider receives a span per sync (see the package doc's
	// Telemetry); nil means the OpenTelemetry global provider, which records
	// nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the keeper's metrics; nil means the
	// OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// CapacityKeeper keeps a network's published capacities in step with its
// referrals: a referral that is accepted takes a place at its service, and
// one that leaves acceptance (completed, failed, cancelled, entered in error
// after it was accepted, started or held) frees it. It follows the network's
// referral feed and writes each change with storage.DirectoryFeed's
// AdjustCapacity, so the change reaches every Index through the directory
// feed like any other, and the lifecycle needs no hook: whatever moves a
// referral (the engine, a FHIR Task update, a partner's system), the event it
// appends is what the keeper reads.
//
// A place is held while a referral is accepted, in progress or on hold: an
// event whose status change enters that set takes one place, one that leaves
// it frees one (a service's Available stays within [0, Maximum]). A referral
// without a service, or whose service is gone or publishes no capacity,
// changes nothing.
//
// Each event adjusts a capacity at most once, however often it is read: the
// store records, with the adjustment, the feed position of the event that
// caused it (the network's capacity cursor), refuses an adjustment at or
// below it, and the keeper resumes from it. Keepers in several processes on
// one network are therefore safe, and a keeper restarted after a crash
// neither skips nor repeats an event.
//
// Safe for concurrent use.
type CapacityKeeper struct {
	store   KeeperStore
	network referral.ID
	opts    KeeperOptions
	tel     *tel

	mu    sync.Mutex
	after int64
	// serviceOf caches the service of referrals read, which never changes;
	// it is dropped whole when it grows past maxCachedReferrals.
	serviceOf map[referral.ID]referral.ID
}

const maxCachedReferrals = 10_000

// NewCapacityKeeper returns a keeper of network's capacities in store.
func NewCapacityKeeper(store KeeperStore, network referral.ID, opts KeeperOptions) (*CapacityKeeper, error) {
	if store == nil {
		return nil, referral.Invalid("store", "is required")
	}
	if err := network.Require("network_id"); err != nil {
		return nil, err
	}
	if opts.After < 0 {
		return nil, referral.Invalid("after", "must not be negative")
	}
	if opts.PollInterval < 0 {
		return nil, referral.Invalid("poll_interval", "must not be negative")
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = defaultPoll
	}
	return &CapacityKeeper{store: store, network: network, opts: opts, serviceOf: map[referral.ID]referral.ID{},
		tel: newTel(opts.TracerProvider, opts.MeterProvider)}, nil
}

// holds reports whether a referral in status st holds a place at its service.
func holds(st referral.Status) bool {
	switch st {
	case referral.StatusAccepted, referral.StatusInProgress, referral.StatusOnHold:
		return true
	}
	return false
}

// delta is the change in places an event makes: -1 takes one, +1 frees one.
func delta(e referral.Event) int {
	switch from, to := holds(e.From), holds(e.To); {
	case to && !from:
		return -1
	case from && !to:
		return +1
	}
	return 0
}

// Sync reads the referral feed from the keeper's position to its end,
// adjusting capacities, and returns how many adjustments the store applied.
func (k *CapacityKeeper) Sync(ctx context.Context) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ctx, obs := k.tel.begin(ctx, "directory capacity sync", k.network, attrFollower.String(followerNames[followerKeeper]))
	from := k.after
	applied, err := k.sync(ctx)
	obs.endKeeper(ctx, int(max(0, k.after-from)), applied, k.after, err)
	return applied, err
}

// sync is Sync, unobserved, with k.mu held.
func (k *CapacityKeeper) sync(ctx context.Context) (int, error) {
	cursor, err := k.store.CapacityCursor(ctx, k.network)
	if err != nil {
		return 0, fmt.Errorf("directory: capacity: %w", err)
	}
	// Another keeper, or this one before a restart, may be ahead.
	k.after = max(k.after, cursor, k.opts.After)
	applied := 0
	for {
		events, err := k.store.Feed(ctx, storage.FeedQuery{Network: k.network, After: k.after, Limit: storage.MaxLimit})
		if err != nil {
			return applied, fmt.Errorf("directory: capacity: %w", err)
		}
		for _, e := range events {
			n, err := k.adjust(ctx, e)
			if err != nil {
				return applied, fmt.Errorf("directory: capacity: referral %s: %w", e.Referral, err)
			}
			applied += n
			k.after = e.Position
		}
		if len(events) < storage.MaxLimit {
			return applied, nil
		}
	}
}

// adjust applies one event; it returns 1 when the store applied a change.
func (k *CapacityKeeper) adjust(ctx context.Context, e referral.Event) (int, error) {
	d := delta(e)
	if d == 0 {
		return 0, nil
	}
	service, ok := k.serviceOf[e.Referral]
	if !ok {
		r, err := k.store.GetReferral(ctx, k.network, e.Referral)
		if err != nil {
			return 0, err
		}
		if len(k.serviceOf) >= maxCachedReferrals {
			clear(k.serviceOf)
		}
		service = r.Service
		k.serviceOf[e.Referral] = service
	}
	if service.IsZero() {
		return 0, nil
	}
	applied, err := k.store.AdjustCapacity(ctx, storage.CapacityAdjustment{
		Network: k.network, Service: service, Delta: d, Cause: e.Position, At: e.At})
	switch {
	case errors.Is(err, referral.ErrNotFound):
		return 0, nil // the service is gone: nothing to keep
	case err != nil:
		return 0, err
	case applied:
		return 1, nil
	}
	return 0, nil
}

// Run syncs as the referral feed grows, woken by the store where it can
// notify (storage.FeedNotifier) and every PollInterval where it cannot, until
// ctx ends (its error is returned, wrapped) or a read or write fails (the
// error is returned; Run again resumes where the store's cursor is).
func (k *CapacityKeeper) Run(ctx context.Context) error {
	notifier, _ := k.store.(storage.FeedNotifier)
	for {
		var wake <-chan struct{}
		if notifier != nil {
			ch, err := notifier.FeedChanged(ctx, k.network)
			if err != nil {
				return fmt.Errorf("directory: capacity: %w", err)
			}
			wake = ch
		}
		if _, err := k.Sync(ctx); err != nil {
			return err
		}
		if wake == nil {
			timer := time.NewTimer(k.opts.PollInterval)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("directory: capacity: %w", ctx.Err())
			case <-timer.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("directory: capacity: %w", ctx.Err())
		case <-wake:
		}
	}
}
