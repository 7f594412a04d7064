package memory

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// num is an ordered-set key for tests.
type num int

func (a num) Compare(b num) int { return cmp.Compare(a, b) }

// TestOrdered checks the chunked set against a sorted slice over random inserts
// and removes, with patterns that fill, split and empty chunks.
func TestOrdered(t *testing.T) {
	tests := []struct {
		name  string
		keys  int
		ops   int
		add   int // percent of operations that insert
		order func(rng *rand.Rand, i int) num
	}{
		{"ascending appends", 3000, 3000, 100, func(_ *rand.Rand, i int) num { return num(i) }},
		{"mostly ascending with repeats", 3000, 6000, 80, func(rng *rand.Rand, i int) num { return num(i/2 - rng.IntN(3)) }},
		{"descending inserts", 3000, 3000, 100, func(_ *rand.Rand, i int) num { return num(-i) }},
		{"random churn", 2000, 20000, 60, func(rng *rand.Rand, _ int) num { return num(rng.IntN(2000)) }},
		{"drain", 5000, 20000, 30, func(rng *rand.Rand, _ int) num { return num(rng.IntN(5000)) }},
		{"tiny", 4, 200, 50, func(rng *rand.Rand, _ int) num { return num(rng.IntN(4)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var s ordered[num]
			var want []num
			for i := range tc.ops {
				k := tc.order(rng, i)
				at, found := slices.BinarySearch(want, k)
				if rng.IntN(100) < tc.add {
					require.Equal(t, !found, s.insert(k))
					if !found {
						want = slices.Insert(want, at, k)
					}
				} else {
					require.Equal(t, found, s.remove(k))
					if found {
						want = slices.Delete(want, at, at+1)
					}
				}
				if i%97 == 0 || i == tc.ops-1 {
					require.Equal(t, len(want), s.Len())
					require.Equal(t, append([]num(nil), want...), slices.Collect(s.all()))
					for _, c := range s.chunks {
						require.NotEmpty(t, c)
						require.LessOrEqual(t, len(c), chunkSize)
					}
					probe := num(rng.IntN(tc.keys+2) - 1)
					from, _ := slices.BinarySearch(want, probe+1)
					require.Equal(t, append([]num(nil), want[from:]...), slices.Collect(s.after(probe)))
				}
			}
		})
	}
}

func TestOrderedEmpty(t *testing.T) {
	var s *ordered[num]
	require.Zero(t, s.Len())
	require.Empty(t, slices.Collect(s.all()))
	require.Empty(t, slices.Collect(s.after(3)))
	var e ordered[num]
	require.False(t, e.remove(1))
	require.Empty(t, slices.Collect(e.after(0)))
}
