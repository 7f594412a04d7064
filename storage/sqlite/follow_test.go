package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/storagetest"
)

// The follow test's parent passes the writer process its database here.
const envFollowDB = "REFKIT_SQLITE_FOLLOW_DB"

// followWrites is how many referrals the writer process creates and moves on,
// two events each.
const followWrites = 5

// TestFollowSeesAnotherProcess follows a network's feed with Engine.Follow
// while another process, the test binary run again as a writer, commits
// referrals to the same file. The engine's own poll interval is an hour, so
// only the store's FeedNotifier can wake the follower: it must deliver every
// event the writer committed, in order.
func TestFollowSeesAnotherProcess(t *testing.T) {
	if os.Getenv(envFollowDB) != "" {
		t.Skip("running as the follow test's writer")
	}
	path := filepath.Join(t.TempDir(), "follow.db")
	s, err := Open(t.Context(), path, Options{PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	f := storagetest.NewFixture(t, s, 1)
	events := followReceiver(t, s, f)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFollowWriterChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFollowDB+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)

	for i := range followWrites {
		// One referral at a time, each written only once the follower has
		// delivered the last: from the second on, the follower is waiting on
		// its channel (or about to) when the other process commits.
		_, err := fmt.Fprintln(stdin, "write")
		require.NoError(t, err)
		require.True(t, lines.Scan(), "the writer reports its write: %v", lines.Err())
		id, ok := strings.CutPrefix(lines.Text(), "wrote ")
		require.True(t, ok, lines.Text())
		for _, want := range []struct {
			sequence int64
			to       referral.Status
		}{{1, referral.StatusRequested}, {2, referral.StatusAccepted}} {
			select {
			case e := <-events:
				require.Equal(t, id, e.Referral.String(), "write %d", i)
				require.Equal(t, want.sequence, e.Sequence)
				require.Equal(t, want.to, e.To)
			case <-time.After(time.Minute):
				t.Fatalf("write %d: the follower was not woken for another process's commit", i)
			}
		}
	}
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), "the writer finished cleanly")
	select {
	case e := <-events:
		t.Fatalf("an event nobody wrote: %+v", e)
	default:
	}
}

// TestFollowWriterChild is TestFollowSeesAnotherProcess's writer; run on its
// own it skips. For every "write" line on stdin it creates and sends a
// referral, accepts it, and prints "wrote <id>".
func TestFollowWriterChild(t *testing.T) {
	path := os.Getenv(envFollowDB)
	if path == "" {
		t.Skip("the writer process of TestFollowSeesAnotherProcess; it runs only when that test starts it")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	f := childFixture(t, s, 1)
	ids := referral.NewIDGenerator(nil, rand.NewChaCha8([32]byte{0xf0}))
	engine, err := lifecycle.New(s, s, lifecycle.Options{IDs: ids})
	require.NoError(t, err)
	sender := referral.Actor{Network: f.Network.ID, Organization: f.Sender.ID, User: "navigator", Role: referral.RoleStaff}
	receiver := referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "intake", Role: referral.RoleStaff}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		r, err := engine.Create(ctx, sender, lifecycle.CreateRequest{
			Person: f.Person.ID, Receiver: f.Receiver.ID, Send: true,
			Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		})
		require.NoError(t, err)
		_, err = engine.Accept(ctx, receiver, r.ID, "")
		require.NoError(t, err)
		fmt.Fprintf(os.Stdout, "wrote %s\n", r.ID)
	}
}

// followReceiver runs Engine.Follow on s as f's receiving organization, with
// an engine that would poll only once an hour, until the test ends, and
// returns the events it delivers.
func followReceiver(t *testing.T, s *Store, f *storagetest.Fixture) <-chan referral.Event {
	t.Helper()
	engine, err := lifecycle.New(s, s, lifecycle.Options{PollInterval: time.Hour})
	require.NoError(t, err)
	actor := referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "partner-system", Role: referral.RoleStaff}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan referral.Event, 64)
	done := make(chan error, 1)
	go func() {
		done <- engine.Follow(ctx, actor, 0, func(e referral.Event) error {
			out <- e
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	return out
}

// TestFeedChangedSeesAnotherStore: a second Store on the same file is as
// foreign as another process; its appends wake this store's channels, one
// network at a time, and a channel taken after an append waits for the next.
func TestFeedChangedSeesAnotherStore(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "refkit.db")
	reader, err := Open(ctx, path, Options{PollInterval: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, reader.Close()) })
	writer, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, writer.Close()) })
	a := storagetest.NewFixture(t, writer, 1)
	b := storagetest.NewFixture(t, writer, 2)

	wait := func(ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatal("an append by another store did not wake the channel")
		}
	}
	chA, err := reader.FeedChanged(ctx, a.Network.ID)
	require.NoError(t, err)
	chB, err := reader.FeedChanged(ctx, b.Network.ID)
	require.NoError(t, err)
	a.Create(t, writer, a.NewReferral(referral.StatusRequested))
	wait(chA)

	// Network b's head did not move: its channel is still open.
	select {
	case <-chB:
		t.Fatal("an append in another network woke the channel")
	default:
	}
	b.Create(t, writer, b.NewReferral(referral.StatusRequested))
	wait(chB)

	_, err = reader.FeedChanged(ctx, a.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

// TestBusyIsUnavailable: a write lock another connection holds past the busy
// timeout is referral.ErrUnavailable (retry later), not a driver error without
// a sentinel, and the store works again once the lock is released.
func TestBusyIsUnavailable(t *testing.T) {
	ctx := t.Context()
	s, path := openTemp(t, Options{BusyTimeout: 20 * time.Millisecond})
	network := referral.Network{ID: referral.NewID(), Name: "Example County"}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)

	err = s.PutNetwork(ctx, network)
	require.ErrorIs(t, err, referral.ErrUnavailable)
	require.False(t, errors.Is(err, referral.ErrInvalid))
	_, err = s.GetNetwork(ctx, network.ID)
	require.ErrorIs(t, err, referral.ErrNotFound, "readers are not blocked, and nothing was written")

	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	require.NoError(t, err)
	require.NoError(t, s.PutNetwork(ctx, network), "a retry after the lock is released succeeds")
}
