package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// FeedChanged returns a channel closed at the network's next feed append (or
// when the store closes), implementing storage.FeedNotifier.
//
// Appends made through this Store wake it as soon as they commit. Appends by
// other processes (or other Stores) arrive by LISTEN/NOTIFY on a dedicated
// connection, which the first call opens and which is listening before the call
// returns, so an append committed after FeedChanged returned is never missed.
// With Options.NoNotify the channel also closes after Options.PollInterval, so
// followers fall back to polling.
func (s *Store) FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	var exists bool
	err := s.call(ctx, "feed changed", func(q querier) error {
		return q.QueryRow(ctx, networkExists, uid(network)).Scan(&exists)
	})
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, s.fail("feed changed", notFound("network", network))
	}
	ch, err := s.notify.channel(ctx, network)
	if err != nil {
		return nil, s.fail("listen for feed changes", err)
	}
	return ch, nil
}

// notifier hands out wake-up channels per network and closes them on appends.
// A store has one for the referral feed and one for the directory feed, each
// listening on its own NOTIFY channel.
type notifier struct {
	s *Store
	// name is the NOTIFY channel listened on.
	name string

	// start serialises opening the listener connection.
	start sync.Mutex

	mu      sync.Mutex
	closed  bool
	waiting map[referral.ID]chan struct{}
	// stop ends the listener goroutine, which closes done when it has exited; both
	// nil until the listener starts.
	stop context.CancelFunc
	done chan struct{}
}

// newNotifier returns the notifier of the store's referral feed.
func newNotifier(s *Store) *notifier { return newChannelNotifier(s, s.channel) }

// newChannelNotifier returns a notifier listening on channel.
func newChannelNotifier(s *Store, channel string) *notifier {
	return &notifier{s: s, name: channel, waiting: make(map[referral.ID]chan struct{})}
}

// channel returns the network's current wake-up channel, creating it.
func (n *notifier) channel(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := n.listen(ctx); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, storage.ErrClosed
	}
	ch, ok := n.waiting[network]
	if !ok {
		ch = make(chan struct{})
		n.waiting[network] = ch
		if n.s.opts.NoNotify {
			time.AfterFunc(n.s.opts.PollInterval, func() { n.expire(network, ch) })
		}
	}
	return ch, nil
}

// wake closes the network's channel, if anyone holds one.
func (n *notifier) wake(network referral.ID) {
	n.mu.Lock()
	if ch, ok := n.waiting[network]; ok {
		close(ch)
		delete(n.waiting, network)
	}
	n.mu.Unlock()
}

// expire closes ch if it is still the network's current channel.
func (n *notifier) expire(network referral.ID, ch chan struct{}) {
	n.mu.Lock()
	if n.waiting[network] == ch {
		close(ch)
		delete(n.waiting, network)
	}
	n.mu.Unlock()
}

// wakeAll closes every channel: followers re-read their feeds.
func (n *notifier) wakeAll() {
	n.mu.Lock()
	for network, ch := range n.waiting {
		close(ch)
		delete(n.waiting, network)
	}
	n.mu.Unlock()
}

// close wakes every follower and stops the listener.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	stop, done := n.stop, n.done
	n.mu.Unlock()
	n.wakeAll()
	if stop != nil {
		stop()
		<-done
	}
}

// listen starts the listener once; it is LISTENing when listen returns.
func (n *notifier) listen(ctx context.Context) error {
	if n.s.opts.NoNotify {
		return nil
	}
	n.start.Lock()
	defer n.start.Unlock()
	n.mu.Lock()
	started, closed := n.stop != nil, n.closed
	n.mu.Unlock()
	if started {
		return nil
	}
	if closed {
		return storage.ErrClosed
	}
	conn, err := n.connect(ctx)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		stop()
		_ = conn.Close(ctx)
		return storage.ErrClosed
	}
	n.stop, n.done = stop, done
	n.mu.Unlock()
	go n.run(runCtx, conn, done)
	return nil
}

// connect opens the listener's own connection (outside the pool, so it never
// holds a pooled connection hostage) and LISTENs on the store's channel.
func (n *notifier) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, n.s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("listener connection: %w", err)
	}
	// The channel is an identifier (LISTEN takes no parameters), built from the
	// validated schema name and quoted.
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.name}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// run delivers notifications until ctx ends. If the connection breaks it wakes
// every follower (a notification may have been lost), reconnects with backoff,
// and wakes them again once listening, so none waits for an append it missed.
func (n *notifier) run(ctx context.Context, conn *pgx.Conn, done chan struct{}) {
	defer close(done)
	for {
		note, err := conn.WaitForNotification(ctx)
		if err == nil {
			if network, ok := n.parse(note.Payload); ok {
				n.wake(network)
			}
			continue
		}
		_ = conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		n.wakeAll()
		for attempt := 0; ; attempt++ {
			if sleepCtx(ctx, n.s.retry.delay(min(attempt, 8))) != nil {
				return
			}
			if conn, err = n.connect(ctx); err == nil {
				break
			}
		}
		n.wakeAll()
	}
}

// parse reads a payload "<network id> <store token>". Notifications this store
// sent itself are dropped: its writes woke its followers already, and a late
// echo would wake a channel taken after the append.
func (n *notifier) parse(payload string) (referral.ID, bool) {
	id, token, ok := strings.Cut(payload, " ")
	if !ok || token == n.s.token {
		return referral.NilID, false
	}
	network, err := referral.ParseID(id)
	return network, err == nil
}
