package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	var head int64
	err := s.queryRow(ctx, qFeedHead, blob(network), blob(network)).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("network", network)
	}
	if err != nil {
		return nil, s.failed("feed changed", err)
	}
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	// A channel handed out earlier waits for a head at most this one: it may
	// close for an append the caller reads anyway, which FeedNotifier allows.
	w, ok := s.waiting[network]
	if !ok {
		w = &waiter{ch: make(chan struct{}), head: head}
		s.waiting[network] = w
	}
	if !s.watching {
		s.watching = true
		s.watched = make(chan struct{})
		go s.watch(s.watched)
	}
	return w.ch, nil
}

// notify wakes the network's followers after a committed append. A channel
// handed out before the commit is closed, so a follower that took it before
// reading the feed never misses the append.
func (s *Store) notify(network referral.ID) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if w, ok := s.waiting[network]; ok {
		close(w.ch)
		delete(s.waiting, network)
	}
}

// watch wakes followers for appends other processes commit, until nobody
// waits or the store closes; it closes done as it returns.
func (s *Store) watch(done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	timer := time.NewTimer(s.poll)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		waited := s.waited()
		if waited == nil {
			return
		}
		for network, w := range waited {
			var head int64
			err := s.queryRow(ctx, qFeedHead, blob(network), blob(network)).Scan(&head)
			// A failed read may have hidden an append: wake the followers, who
			// read the feed and meet the error themselves if it persists.
			if err != nil || head > w.head {
				s.wake(network, w)
			}
		}
		timer.Reset(s.poll)
	}
}

// waited returns the current waiters by network, or nil, marking the watcher
// stopped, when there are none.
func (s *Store) waited() map[referral.ID]*waiter {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if len(s.waiting) == 0 || s.closed.Load() {
		s.watching = false
		return nil
	}
	out := make(map[referral.ID]*waiter, len(s.waiting))
	for network, w := range s.waiting {
		out[network] = w
	}
	return out
}

// wake closes w if it is still the network's current waiter.
func (s *Store) wake(network referral.ID, w *waiter) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.waiting[network] == w {
		close(w.ch)
		delete(s.waiting, network)
	}
}
