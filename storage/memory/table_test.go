package memory

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/storagetest"
)

// row is a table record for tests: listed by owner, with a slice to show copies.
type row struct {
	id, network, owner referral.ID
	tags               []string
}

func newRows() table[row] {
	return newTable("row",
		func(r row) referral.ID { return r.network },
		func(r row) referral.ID { return r.owner },
		func(r row) row { r.tags = slices.Clone(r.tags); return r })
}

func testIDs(n int) []referral.ID {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	g := referral.NewIDGenerator(func() time.Time { return at }, rand.NewChaCha8([32]byte{}))
	ids := make([]referral.ID, n)
	for i := range ids {
		ids[i] = g.MustNew()
	}
	slices.SortFunc(ids, referral.ID.Compare)
	return ids
}

// keys returns the ids t lists under key, in order.
func keys(t *table[row], key referral.ID) []referral.ID {
	return slices.Collect(t.lists[key].all())
}

// TestTable runs each case on a table holding r1 (network A, listed under ann,
// tagged "x"), whose input was changed after the put.
func TestTable(t *testing.T) {
	ids := testIDs(8)
	netA, netB, ann, bob := ids[0], ids[1], ids[2], ids[3]
	r1, r2, r3 := ids[4], ids[5], ids[6]

	tests := []struct {
		name  string
		run   func(t *testing.T, tb *table[row]) error
		is    error
		check func(t *testing.T, tb *table[row])
	}{
		{
			name: "put stores a copy and lists it",
			check: func(t *testing.T, tb *table[row]) {
				got, err := tb.find(netA, r1)
				require.NoError(t, err)
				require.Equal(t, []string{"x"}, got.tags)
				require.Equal(t, []referral.ID{r1}, keys(tb, ann))
			},
		},
		{
			name: "replacing under another key moves the listing",
			run: func(t *testing.T, tb *table[row]) error {
				old, replaced, err := tb.put(r1, row{id: r1, network: netA, owner: bob})
				require.True(t, replaced)
				require.Equal(t, ann, old.owner)
				return err
			},
			check: func(t *testing.T, tb *table[row]) {
				require.NotContains(t, tb.lists, ann, "an emptied list is dropped")
				require.Equal(t, []referral.ID{r1}, keys(tb, bob))
			},
		},
		{
			name: "an id of another network is a conflict",
			run: func(t *testing.T, tb *table[row]) error {
				_, _, err := tb.put(r1, row{id: r1, network: netB, owner: bob})
				return err
			},
			is: referral.ErrConflict,
			check: func(t *testing.T, tb *table[row]) {
				got, err := tb.find(netA, r1)
				require.NoError(t, err, "the stored record is kept")
				require.Equal(t, ann, got.owner)
				require.Empty(t, keys(tb, bob))
			},
		},
		{
			name: "add refuses an existing id",
			run: func(t *testing.T, tb *table[row]) error {
				return tb.add(r1, row{id: r1, network: netA, owner: bob})
			},
			is: referral.ErrConflict,
			check: func(t *testing.T, tb *table[row]) {
				require.Equal(t, []referral.ID{r1}, keys(tb, ann))
			},
		},
		{
			name: "find in another network is not found",
			run: func(t *testing.T, tb *table[row]) error {
				_, err := tb.find(netB, r1)
				return err
			},
			is: referral.ErrNotFound,
		},
		{
			name: "remove in another network is not found",
			run:  func(t *testing.T, tb *table[row]) error { return tb.remove(netB, r1) },
			is:   referral.ErrNotFound,
			check: func(t *testing.T, tb *table[row]) {
				require.Equal(t, []referral.ID{r1}, keys(tb, ann))
			},
		},
		{
			name: "remove deletes the record and its listing",
			run:  func(t *testing.T, tb *table[row]) error { return tb.remove(netA, r1) },
			check: func(t *testing.T, tb *table[row]) {
				require.Empty(t, tb.rows)
				require.Empty(t, tb.lists)
			},
		},
		{
			name: "page and listed copy records in id order",
			run: func(t *testing.T, tb *table[row]) error {
				require.NoError(t, tb.add(r3, row{id: r3, network: netA, owner: ann}))
				return tb.add(r2, row{id: r2, network: netB, owner: ann})
			},
			check: func(t *testing.T, tb *table[row]) {
				got, next := tb.page(ann, referral.NilID, 2)
				require.Equal(t, []referral.ID{r1, r2}, []referral.ID{got[0].id, got[1].id})
				require.Equal(t, r2, next)
				got[0].tags[0] = "changed"
				got, next = tb.page(ann, next, 2)
				require.Len(t, got, 1)
				require.Equal(t, r3, got[0].id)
				require.True(t, next.IsZero())

				inA := tb.listed(ann, netA)
				require.Equal(t, []referral.ID{r1, r3}, []referral.ID{inA[0].id, inA[1].id})
				require.Equal(t, []string{"x"}, inA[0].tags, "a returned copy does not reach the store")
				require.Nil(t, tb.listed(bob, netA))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newRows()
			in := row{id: r1, network: netA, owner: ann, tags: []string{"x"}}
			_, replaced, err := tb.put(r1, in)
			require.NoError(t, err)
			require.False(t, replaced)
			in.tags[0] = "changed"
			if tc.run != nil {
				err = tc.run(t, &tb)
			}
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			} else {
				require.NoError(t, err)
			}
			if tc.check != nil {
				tc.check(t, &tb)
			}
		})
	}
}

// TestConsentMovesPerson checks that replacing a consent with another person
// takes it off the first person's list.
func TestConsentMovesPerson(t *testing.T) {
	ctx := t.Context()
	s := New()
	f := storagetest.NewFixture(t, s, 7)
	ann, bob := f.NewPerson(), f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, ann))
	require.NoError(t, s.PutPerson(ctx, bob))
	c := f.NewConsent(ann.ID, f.Receiver.ID, referral.ScopeView)
	require.NoError(t, s.PutConsent(ctx, c))

	c.Person = bob.ID
	require.NoError(t, s.PutConsent(ctx, c))

	got, err := s.ListConsents(ctx, f.Network.ID, ann.ID)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = s.ListConsents(ctx, f.Network.ID, bob.ID)
	require.NoError(t, err)
	require.Equal(t, []referral.Consent{c}, got)
	require.NotContains(t, s.consentsOf, ann.ID, "an emptied list is dropped")
}
