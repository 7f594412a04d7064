package simulation

import "math/rand/v2"

// Common random numbers. Every random draw belongs to an entity and a purpose:
// the k-th arrival at a site, the a-th referral of a need, its acknowledgement,
// its service time. A draw comes from a generator seeded by the replication's
// seed, the purpose and the entity's key alone, never from a stream shared with
// other entities, so it does not depend on what else happened before it. Two
// runs with the same seed whose scenarios differ in one parameter (an arm of an
// experiment) therefore see the same people arrive at the same times with the
// same needs, and the same partners take the same times to answer, wherever the
// parameter does not change that entity's path: their differences are paired.
//
// Each site's arrival times come from a stream of its own, one exponential
// draw per arrival (see arrivals.go), so a site whose rate does not change
// sees the same arrivals in every arm.

// Purposes of keyed draws.
const (
	drawArrival uint64 = iota + 1 // the person who arrives, their screening
	drawAcknowledge
	drawDecide
	drawDecline
	drawContact
	drawReach
	drawShow
	drawService
	drawPatience
	drawPathway // + the pathway's index
)

// mix is the SplitMix64 finalizer: it spreads the bits of x so that nearby
// keys (consecutive arrivals) seed unrelated generators.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// keyOf combines a parent key and a child index into the child's key.
func keyOf(parent, child uint64) uint64 { return mix(parent ^ mix(child)) }

// keyed hands out generators for (purpose, key) pairs. It reuses one PCG
// source, re-seeded for every pair: a Rand of math/rand/v2 keeps no state of
// its own, so this costs a few nanoseconds and no allocation. A generator is
// valid until the next call.
type keyed struct {
	seed uint64
	src  rand.PCG
	r    *rand.Rand
}

func newKeyed(seed uint64) *keyed {
	k := &keyed{seed: mix(seed ^ 0x5eed_c0de)}
	k.r = rand.New(&k.src)
	return k
}

// at returns the generator of one purpose for one entity.
func (k *keyed) at(purpose, key uint64) *rand.Rand {
	k.src.Seed(mix(k.seed^purpose), mix(key^(purpose<<56)))
	return k.r
}
