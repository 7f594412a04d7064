package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// SQLite tells a process nothing when another process commits to the same
// file, so FeedChanged watches for such appends itself: while anyone waits, a
// goroutine reads the feed head (the highest event position) of every
// waited-on network every Options.PollInterval and wakes the network's
// followers when it has moved past what they saw. Appends through this Store
// wake its followers at once, without waiting for the watcher.
//
// The head is enough because positions are rowids handed out under the
// file's write lock, which every process takes in turn: an append committed
// after a follower took its channel always has a position above the head read
// then. One indexed lookup per waited-on network and interval, and nothing at
// all while nobody waits, was preferred to PRAGMA data_version, which would
// need a connection held out of the reader pool for as long as anyone waits
// (a pool of one, as a host may give New, would then deadlock) and would also
// fire at this Store's own commits.

// waiter is a network's current wake-up channel and the feed head it waits to
// see pass.
type waiter struct {
	ch   chan struct{}
	head int64
}

// FeedChanged returns a channel closed at the network's next committed append
// (or when the store closes), implementing storage.FeedNotifier. An append
// through this Store closes it as the append returns; one made by another
// process, or another Store on the same file, within Options.PollInterval.
func (s *Store) FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	return s.feed.channel(ctx, network)
}

// headWatch hands out wake-up channels per network for one feed (the referral
// feed, the directory feed) and closes them when the feed's head moves: at
// once for this Store's own appends (notify), and, while anyone waits, by
// reading the head of every waited-on network every Options.PollInterval, for
// appends other processes commit.
type headWatch struct {
	s    *Store
	op   string // names the feed in errors
	head string // the head query: (network, network) → position; no row for an unknown network

	mu       sync.Mutex
	waiting  map[referral.ID]*waiter
	watching bool
	closed   bool
	// watched is closed when the watcher goroutine has exited.
	watched chan struct{}
}

func newHeadWatch(s *Store, op, head string) *headWatch {
	return &headWatch{s: s, op: op, head: head, waiting: map[referral.ID]*waiter{}}
}

// channel returns the network's wake-up channel, starting the watcher.
func (w *headWatch) channel(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	var head int64
	err := w.s.queryRow(ctx, w.head, blob(network), blob(network)).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("network", network)
	}
	if err != nil {
		return nil, w.s.failed(w.op, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, storage.ErrClosed
	}
	// A channel handed out earlier waits for a head at most this one: it may
	// close for a change the caller reads anyway, which the contract allows.
	wt, ok := w.waiting[network]
	if !ok {
		wt = &waiter{ch: make(chan struct{}), head: head}
		w.waiting[network] = wt
	}
	if !w.watching {
		w.watching = true
		w.watched = make(chan struct{})
		go w.watch(w.watched)
	}
	return wt.ch, nil
}

// notify wakes the network's followers after a committed append.
func (w *headWatch) notify(network referral.ID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt, ok := w.waiting[network]; ok {
		close(wt.ch)
		delete(w.waiting, network)
	}
}

// watch wakes followers for appends other processes commit, until nobody
// waits or the store closes; it closes done as it returns.
func (w *headWatch) watch(done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	timer := time.NewTimer(w.s.poll)
	defer timer.Stop()
	for {
		select {
		case <-w.s.stop:
			return
		case <-timer.C:
		}
		waited := w.waited()
		if waited == nil {
			return
		}
		for network, wt := range waited {
			var head int64
			err := w.s.queryRow(ctx, w.head, blob(network), blob(network)).Scan(&head)
			// A failed read may have hidden an append: wake the followers, who
			// read the feed and meet the error themselves if it persists.
			if err != nil || head > wt.head {
				w.wake(network, wt)
			}
		}
		timer.Reset(w.s.poll)
	}
}

// waited returns the current waiters by network, or nil, marking the watcher
// stopped, when there are none.
func (w *headWatch) waited() map[referral.ID]*waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.waiting) == 0 || w.closed {
		w.watching = false
		return nil
	}
	out := make(map[referral.ID]*waiter, len(w.waiting))
	for network, wt := range w.waiting {
		out[network] = wt
	}
	return out
}

// wake closes wt if it is still the network's current waiter.
func (w *headWatch) wake(network referral.ID, wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[network] == wt {
		close(wt.ch)
		delete(w.waiting, network)
	}
}

// close wakes every follower and waits for the watcher, which reads through
// the handles the store closes next. The store's stop channel is closed
// already, so the watcher is on its way out.
func (w *headWatch) close() {
	w.mu.Lock()
	w.closed = true
	for network, wt := range w.waiting {
		close(wt.ch)
		delete(w.waiting, network)
	}
	watched := w.watched
	w.mu.Unlock()
	if watched != nil {
		<-watched
	}
}
