package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// TestDirectoryChangedInAnotherProcess: a change another store commits (as
// another process would) wakes a directory follower through NOTIFY on the
// directory channel, and referral appends do not.
func TestDirectoryChangedInAnotherProcess(t *testing.T) {
	ctx := context.Background()
	writer := openTest(t, Options{})
	reader := openAgain(t, writer, Options{})
	f := storagetest.NewFixture(t, writer, 1)
	wait := func(ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatal("a change by another store did not wake the channel")
		}
	}
	ch, err := reader.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	// The referral's NOTIFY is on the other channel: give it time to arrive
	// where it must not.
	feed, err := reader.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	f.Create(t, writer, f.NewReferral(referral.StatusRequested))
	wait(feed)
	select {
	case <-ch:
		t.Fatal("a referral append woke a directory follower")
	default:
	}
	require.NoError(t, writer.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: 1}))
	wait(ch)

	ch, err = reader.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	require.NoError(t, writer.PutService(ctx, f.NewService(f.Receiver.ID)))
	wait(ch)
	got := storagetest.DirectoryAll(t, reader, f.Network.ID, 0)
	require.Equal(t, storage.ChangeService, got[len(got)-1].Kind)
}

// TestDirectoryChangedWithoutNotify: without NOTIFY, directory channels close
// after the poll interval, so a follower in another process catches up.
func TestDirectoryChangedWithoutNotify(t *testing.T) {
	ctx := context.Background()
	writer := openTest(t, Options{NoNotify: true})
	reader := openAgain(t, writer, Options{NoNotify: true, PollInterval: 20 * time.Millisecond})
	f := storagetest.NewFixture(t, writer, 1)
	ch, err := reader.DirectoryChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("a directory channel of a store without NOTIFY closes after the poll interval")
	}
}

// TestAdjustCapacityOnceAcrossProcesses: two stores (two processes, as far as
// the database can tell) apply the same run of adjustments concurrently, as
// two capacity keepers following one referral feed would; every cause moves
// the capacity once.
func TestAdjustCapacityOnceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	a := openTest(t, Options{})
	b := openAgain(t, a, Options{})
	f := storagetest.NewFixture(t, a, 1)
	require.NoError(t, a.SetCapacity(ctx, f.Network.ID, f.Service.ID, &referral.Capacity{Available: 100}))
	const causes = 30
	applied := make([]int, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cause := int64(1); cause <= causes; cause++ {
				ok, err := s.AdjustCapacity(ctx, storage.CapacityAdjustment{
					Network: f.Network.ID, Service: f.Service.ID, Delta: -1, Cause: cause})
				if err != nil {
					errs[i] = err
					return
				}
				if ok {
					applied[i]++
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, causes, applied[0]+applied[1], "each cause applied once in all")
	svc, err := a.GetService(ctx, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	require.Equal(t, 100-causes, svc.Capacity.Available)
	cursor, err := b.CapacityCursor(ctx, f.Network.ID)
	require.NoError(t, err)
	require.Equal(t, int64(causes), cursor)
}
