package matching

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The set agrees with a map through growth and resets, including a wrapped
// generation.
func TestDecidedIsASet(t *testing.T) {
	tests := []struct {
		name     string
		requests int
		adds     int
		universe int32
		startGen uint32
	}{
		{name: "small requests", requests: 50, adds: 40, universe: 100},
		{name: "growth past the first size", requests: 5, adds: 3000, universe: 200_000},
		{name: "generation wraps", requests: 4, adds: 300, universe: 500, startGen: ^uint32(0) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tt.adds), 3))
			var d decided
			d.reset()
			d.gen = tt.startGen
			for range tt.requests {
				d.reset()
				want := map[int32]bool{}
				for range tt.adds {
					svc := r.Int32N(tt.universe)
					require.Equal(t, !want[svc], d.add(svc), "service %d", svc)
					want[svc] = true
				}
				require.Equal(t, len(want), d.n)
				require.LessOrEqual(t, 2*d.n, len(d.slots))
			}
		})
	}
}
