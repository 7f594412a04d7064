package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// TestDirectoryFeedQueryPlans: the directory feed's reads are answered from an
// index, never by scanning a table.
func TestDirectoryFeedQueryPlans(t *testing.T) {
	s, _ := openTemp(t, Options{})
	id := blob(referral.NewID())
	tests := []struct {
		name  string
		query string
		args  []any
	}{
		{"directory changes", qDirectoryChanges, []any{id, 0, 100}},
		{"directory head", qDirectoryHead, []any{id, id}},
		{"capacity cursor", qCapacityCursor, []any{id, id}},
		{"capacity cause", qCapacityCause, []any{id}},
		{"service record", qServiceRecord, []any{id, id}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") {
					require.Contains(t, step, "USING", "a full table scan: %v", plan)
				}
			}
		})
	}
}

// TestDirectoryChangedSeesAnotherStore: a change committed through another
// Store on the same file (as another process would) wakes a directory
// follower within the poll interval, and the follower reads it.
func TestDirectoryChangedSeesAnotherStore(t *testing.T) {
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
			t.Fatal("a change by another store did not wake the channel")
		}
	}
	head := storagetest.DirectoryAll(t, reader, a.Network.ID, 0)
	chA, err := reader.DirectoryChanged(ctx, a.Network.ID)
	require.NoError(t, err)
	chB, err := reader.DirectoryChanged(ctx, b.Network.ID)
	require.NoError(t, err)
	require.NoError(t, writer.SetCapacity(ctx, a.Network.ID, a.Service.ID, &referral.Capacity{Available: 2}))
	wait(chA)
	select {
	case <-chB:
		t.Fatal("a change in another network woke the channel")
	default:
	}
	got := storagetest.DirectoryAll(t, reader, a.Network.ID, head[len(head)-1].Position)
	require.Len(t, got, 1)
	require.Equal(t, storage.ChangeCapacity, got[0].Kind)
	require.Equal(t, &referral.Capacity{Available: 2}, got[0].Capacity)

	require.NoError(t, writer.DeleteService(ctx, b.Network.ID, b.Service.ID))
	wait(chB)

	// The reader's own writes wake its followers at once, whatever the poll.
	slow, err := Open(ctx, path, Options{PollInterval: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, slow.Close()) })
	ch, err := slow.DirectoryChanged(ctx, a.Network.ID)
	require.NoError(t, err)
	require.NoError(t, slow.PutOrganization(ctx, a.NewOrganization("Walk-in clinic")))
	select {
	case <-ch:
	default:
		t.Fatal("the store's own write did not wake its follower as it returned")
	}
}
