package matching

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// A capacity table is persistent: every edit makes a new table equal to a plain
// array with the edits applied, and leaves every older table as it was, across
// leaf and middle-node boundaries.
func TestCapTableEditsArePersistent(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		batches int
		perEdit int
	}{
		{name: "one leaf", n: 5, batches: 20, perEdit: 3},
		{name: "partial last leaf", n: capLeafSize*3 + 17, batches: 20, perEdit: 5},
		{name: "several middle nodes and class leaves", n: capLeafSize*capMidSize*2 + 300, batches: 30, perEdit: 40},
	}
	for _, tt := range tests {
		if testing.Short() {
			tt.batches = max(1, tt.batches/5) // the inner loop; CI runs every batch
		}
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tt.n), 1))
			model := make([]capEntry, tt.n)
			table := newCapTable(tt.n)
			for i := range model {
				c := randomCapacity(r)
				table.set(int32(i), c)
				model[i] = entryOf(c)
			}
			var tables []capTable
			var models [][]capEntry
			for range tt.batches {
				tables, models = append(tables, table), append(models, append([]capEntry(nil), model...))
				edit := table.edit()
				for range tt.perEdit {
					i := r.IntN(tt.n)
					c := randomCapacity(r)
					edit.set(int32(i), c)
					model[i] = entryOf(c)
				}
				table = edit.next
			}
			tables, models = append(tables, table), append(models, model)
			for k, tab := range tables {
				for i, want := range models[k] {
					require.Equal(t, want, *tab.at(int32(i)), "table %d entry %d", k, i)
					require.Equal(t, want.class, tab.class(int32(i)), "table %d class %d", k, i)
				}
			}
		})
	}
}

func TestCapEntryReason(t *testing.T) {
	tests := []struct {
		name string
		c    *referral.Capacity
		want Reason
	}{
		{name: "untracked", c: nil, want: Reason{}},
		{name: "few open", c: &referral.Capacity{Available: 3}, want: Reason{ReasonCapacity, "3 open"}},
		{name: "many open", c: &referral.Capacity{Available: 1000, Waitlist: 2}, want: Reason{ReasonCapacity, "1000 open"}},
		{name: "waitlist", c: &referral.Capacity{Waitlist: 2}, want: Reason{Code: ReasonWaitlist}},
		{name: "full", c: &referral.Capacity{}, want: Reason{Code: ReasonNoCapacity}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entryOf(tt.c)
			require.Equal(t, tt.want, e.reason())
			require.Equal(t, tt.c, e.capacity())
		})
	}
}

func randomCapacity(r *rand.Rand) *referral.Capacity {
	if r.IntN(5) == 0 {
		return nil
	}
	return &referral.Capacity{Available: r.IntN(3), Waitlist: r.IntN(3)}
}

// BenchmarkCapTableEdit is the cost of one capacity update's table edit on a
// directory of 200,000 services: it must not grow with the directory.
func BenchmarkCapTableEdit(b *testing.B) {
	const n = 200_000
	table := newCapTable(n)
	r := rand.New(rand.NewPCG(1, 2))
	c := &referral.Capacity{Available: 1}
	for b.Loop() {
		edit := table.edit()
		edit.set(int32(r.IntN(n)), c)
		table = edit.next
	}
}
