package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/refkit/refkit/referral"
)

// FeedChanged returns a channel closed at the network's next committed append
// made through this Store (or when the store closes), implementing
// storage.FeedNotifier. Appends by other processes on the same file do not
// close it: followers there rely on polling.
func (s *Store) FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	var one int
	err := s.queryRow(ctx, qNetworkExists, blob(network)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("network", network)
	}
	if err != nil {
		return nil, failed("feed changed", err)
	}
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	ch, ok := s.waiting[network]
	if !ok {
		ch = make(chan struct{})
		s.waiting[network] = ch
	}
	return ch, nil
}

// notify wakes the network's followers after a committed append. A channel
// handed out before the commit is closed, so a follower that took it before
// reading the feed never misses the append.
func (s *Store) notify(network referral.ID) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if ch, ok := s.waiting[network]; ok {
		close(ch)
		delete(s.waiting, network)
	}
}
