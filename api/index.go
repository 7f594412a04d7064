package api

import (
	"context"
	"sync"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// indexes caches one matching index per network, built from the store's
// services. Writes made through this API update the cached index at once;
// writes made elsewhere (another serve process, an HSDS import) are seen
// when the index is rebuilt, at most maxAge after it was built. The directory
// change feed will replace the age with exact following.
type indexes struct {
	store  storage.Directory
	now    func() time.Time
	maxAge time.Duration

	mu sync.Mutex
	m  map[referral.ID]*netIndex
}

// netIndex is one network's index; mu serialises its rebuilds.
type netIndex struct {
	mu    sync.Mutex
	ix    *matching.Index
	built time.Time
}

func newIndexes(store storage.Directory, now func() time.Time, maxAge time.Duration) *indexes {
	return &indexes{store: store, now: now, maxAge: maxAge, m: make(map[referral.ID]*netIndex)}
}

// entry returns the network's entry, making room when the cache is full.
func (x *indexes) entry(network referral.ID) *netIndex {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.m[network]
	if !ok {
		if len(x.m) >= MaxIndexes {
			// Any entry will do: an evicted network is rebuilt when next asked for.
			for k := range x.m {
				delete(x.m, k)
				break
			}
		}
		e = &netIndex{}
		x.m[network] = e
	}
	return e
}

// get returns the network's index, building it if it is missing or stale.
func (x *indexes) get(ctx context.Context, network referral.ID) (*matching.Index, error) {
	e := x.entry(network)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix != nil && x.now().Sub(e.built) < x.maxAge {
		return e.ix, nil
	}
	services, err := storage.AllServices(ctx, x.store, network)
	if err != nil {
		return nil, err
	}
	ix, err := matching.New(ctx, services, matching.Options{Now: x.now})
	if err != nil {
		return nil, err
	}
	e.ix, e.built = ix, x.now()
	return ix, nil
}

// update applies a change made through the API to the network's cached
// index, if there is one; a change it refuses drops the index, which the
// next match rebuilds from the store.
func (x *indexes) update(ctx context.Context, network referral.ID, change matching.Change) {
	x.mu.Lock()
	e, ok := x.m[network]
	x.mu.Unlock()
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix == nil {
		return
	}
	if err := e.ix.Update(ctx, change); err != nil {
		e.ix = nil
	}
}
