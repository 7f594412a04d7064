package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// MaxNetworks bounds how many networks have followers running at once (a
// matching index, an HSDS catalog, a capacity keeper): past it, the network
// least recently started is stopped, and started again when next asked for.
const MaxNetworks = 1024

// feedStore is what the followers read: a network's directory and its
// change feed (directory.Index, directory.Catalog), and the referral feed a
// directory.CapacityKeeper follows. Every refkit backend satisfies it.
type feedStore interface {
	directory.Store
	directory.KeeperStore
}

// Follower restart delays: a follower whose store read failed starts again
// after the first, doubling up to the second.
const (
	restartMin = time.Second
	restartMax = 30 * time.Second
)

// followers runs, per network the API serves, what follows the store's
// feeds in the background: the matching index (directory.Index, built by the
// network's first match), the HSDS catalog and its handler (built by the
// first HSDS request) and the capacity keeper (started by the network's
// first referral write, when capacity is kept). Each follows every writer
// of the store, this process or another, so nothing here ages or is rebuilt
// on a timer. Close stops them all.
type followers struct {
	store  feedStore
	now    func() time.Time
	keep   bool
	hsds   *hsds.APIOptions
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	closed bool
	m      map[referral.ID]*netFollowers
	order  []referral.ID // start order, for eviction
}

// netFollowers are one network's followers; mu serialises building them.
type netFollowers struct {
	network referral.ID
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	index   *directory.Index
	catalog *directory.Catalog
	hsds    http.Handler
	keeping bool
}

func newFollowers(store feedStore, now func() time.Time, keep bool, hsdsOpts *hsds.APIOptions, log *slog.Logger) *followers {
	ctx, cancel := context.WithCancel(context.Background())
	return &followers{store: store, now: now, keep: keep, hsds: hsdsOpts, log: log, ctx: ctx, cancel: cancel,
		m: map[referral.ID]*netFollowers{}}
}

// errClosed is what a request needing a follower gets after Close.
var errClosed = fmt.Errorf("the API is closed: %w", referral.ErrUnavailable)

// lookup returns the network's followers if they are running.
func (f *followers) lookup(network referral.ID) *netFollowers {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.m[network]
}

// get returns the network's followers, making room when MaxNetworks run.
func (f *followers) get(network referral.ID) (*netFollowers, error) {
	f.mu.RLock()
	n, closed := f.m[network], f.closed
	f.mu.RUnlock()
	switch {
	case closed:
		return nil, errClosed
	case n != nil:
		return n, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errClosed
	}
	if n := f.m[network]; n != nil {
		return n, nil
	}
	if len(f.order) >= MaxNetworks {
		// The oldest goes; its loops end on their own once cancelled.
		old := f.order[0]
		f.order = f.order[1:]
		f.m[old].cancel()
		delete(f.m, old)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	n = &netFollowers{network: network, ctx: ctx, cancel: cancel}
	f.m[network] = n
	f.order = append(f.order, network)
	return n, nil
}

// run keeps fn (a follower's Run) going until the network's followers stop:
// a Run that fails (the store could not be read) is logged and started
// again after a delay, and resumes where it stopped.
func (f *followers) run(n *netFollowers, what string, fn func(context.Context) error) {
	// Under the lock, so no loop starts once close waits for them.
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return
	}
	f.wg.Go(func() {
		delay := restartMin
		for {
			began := time.Now()
			err := fn(n.ctx)
			if n.ctx.Err() != nil {
				return
			}
			level := slog.LevelWarn
			if errors.Is(err, referral.ErrNotFound) {
				level = slog.LevelDebug // the network is not stored yet
			}
			f.log.LogAttrs(n.ctx, level, "follower stopped; restarting", slog.String("follower", what),
				slog.String("network_id", n.network.String()), slog.String("error", err.Error()), slog.Duration("after", delay))
			if time.Since(began) > restartMax {
				delay = restartMin // it ran a good while: a new failure, not the same one
			}
			t := time.NewTimer(delay)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, restartMax)
		}
	})
}

// index returns the network's matching index, building it (and starting
// its follower) on first use. The network must exist (ErrNotFound).
func (f *followers) index(ctx context.Context, network referral.ID) (*directory.Index, error) {
	n, err := f.get(network)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.index != nil {
		return n.index, nil
	}
	ix, err := directory.NewIndex(ctx, f.store, network, directory.IndexOptions{Matching: matching.Options{Now: f.now}})
	if err != nil {
		return nil, err
	}
	n.index = ix
	f.run(n, "index", ix.Run)
	return ix, nil
}

// hsdsHandler returns the network's HSDS API handler, building its catalog
// (and starting its follower) on first use.
func (f *followers) hsdsHandler(ctx context.Context, network referral.ID) (http.Handler, error) {
	n, err := f.get(network)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hsds != nil {
		return n.hsds, nil
	}
	c, err := directory.NewCatalog(ctx, f.store, network)
	if err != nil {
		return nil, err
	}
	opts := *f.hsds
	// The API authenticated the request already; the catalog's viewer is
	// that actor, so confidential records show exactly as the actor's
	// organization may see them.
	opts.Authenticate = func(r *http.Request) (*referral.Actor, error) {
		a, ok := ActorFrom(r.Context())
		if !ok {
			return nil, ErrUnauthenticated
		}
		return &a, nil
	}
	h, err := hsds.NewAPI(c, opts)
	if err != nil {
		return nil, err
	}
	n.catalog, n.hsds = c, h
	f.run(n, "catalog", c.Run)
	return h, nil
}

// keepCapacity starts the network's capacity keeper, when capacity is kept
// and it is not running yet. It is called after a referral write succeeded,
// so the network exists; the keeper resumes from the store's capacity
// cursor, so a network's events written before it started are counted, once.
func (f *followers) keepCapacity(network referral.ID) {
	if !f.keep {
		return
	}
	n, err := f.get(network)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.keeping {
		return
	}
	k, err := directory.NewCapacityKeeper(f.store, network, directory.KeeperOptions{})
	if err != nil {
		// Only invalid arguments fail, and the network id was validated.
		f.log.Error("capacity keeper", slog.String("network_id", network.String()), slog.String("error", err.Error()))
		return
	}
	n.keeping = true
	f.run(n, "capacity-keeper", k.Run)
}

// synced brings the network's index and catalog, if running, up to a write
// this API just made, so its caller reads it at once; the followers would
// apply it on their own a moment later. A failure is logged, not returned:
// the write is stored, and the follower retries.
func (f *followers) synced(ctx context.Context, network referral.ID) {
	n := f.lookup(network)
	if n == nil {
		return
	}
	n.mu.Lock()
	ix, c := n.index, n.catalog
	n.mu.Unlock()
	var err error
	if ix != nil {
		_, err = ix.Sync(ctx)
	}
	if c != nil && err == nil {
		_, err = c.Sync(ctx)
	}
	if err != nil {
		f.log.LogAttrs(ctx, slog.LevelWarn, "directory sync after a write", slog.String("network_id", network.String()),
			slog.String("error", err.Error()))
	}
}

// close stops every follower and waits for them.
func (f *followers) close() {
	f.mu.Lock()
	f.closed = true
	f.cancel()
	f.mu.Unlock()
	f.wg.Wait()
}

// storeFeeds checks store has the feeds the followers read.
func storeFeeds(store storage.Store) (feedStore, error) {
	fs, ok := store.(feedStore)
	if !ok {
		return nil, referral.Invalid("store", "must implement storage.DirectoryFeed (every refkit backend does)")
	}
	return fs, nil
}
