package memory

import (
	"iter"
	"slices"
)

// keyed is what an ordered set holds: a value that orders itself, like referral.ID.
type keyed[K any] interface {
	Compare(K) int
}

// chunkSize bounds one chunk of an ordered set. An insert or delete moves at most
// this many keys, and a seek is two short binary searches, so the set stays cheap
// at hundreds of thousands of keys without a tree's pointer chasing.
const chunkSize = 512

// ordered is a sorted set of keys kept as a list of sorted, non-empty chunks; the
// chunks are in order too, so the last key of each chunk routes a search.
type ordered[K keyed[K]] struct {
	chunks [][]K
	n      int
}

// Len returns the number of keys.
func (s *ordered[K]) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// locate returns the index of the first chunk whose last key is not below k;
// len(s.chunks) if k is above every key.
func (s *ordered[K]) locate(k K) int {
	lo, hi := 0, len(s.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := s.chunks[m]
		if c[len(c)-1].Compare(k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lowerBound returns the index of the first key in c not below k.
func lowerBound[K keyed[K]](c []K, k K) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c[m].Compare(k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insert adds k and reports whether it was new.
func (s *ordered[K]) insert(k K) bool {
	// Time-ordered ids mostly arrive in order: a key above the last one skips the
	// search over the chunks, whose routing keys are a cache miss each in a set
	// of a million.
	ci := len(s.chunks)
	if last := ci - 1; last < 0 || s.chunks[last][len(s.chunks[last])-1].Compare(k) >= 0 {
		ci = s.locate(k)
	}
	if ci == len(s.chunks) {
		// k is above every key, the common case for time-ordered ids: append,
		// starting a fresh chunk when the last is full so chunks fill completely.
		switch {
		case ci == 0:
			s.chunks = append(s.chunks, []K{k})
		case len(s.chunks[ci-1]) >= chunkSize:
			// A set that filled a chunk is a big one: its next chunk will fill
			// too, so it starts at full size instead of growing by doubling.
			c := make([]K, 1, chunkSize)
			c[0] = k
			s.chunks = append(s.chunks, c)
		default:
			s.chunks[ci-1] = append(s.chunks[ci-1], k)
		}
		s.n++
		return true
	}
	c := s.chunks[ci]
	i := lowerBound(c, k)
	if c[i].Compare(k) == 0 {
		return false
	}
	c = slices.Insert(c, i, k)
	if len(c) > chunkSize {
		half := len(c) / 2
		right := make([]K, len(c)-half, chunkSize)
		copy(right, c[half:])
		clear(c[half:])
		s.chunks[ci] = c[:half]
		s.chunks = slices.Insert(s.chunks, ci+1, right)
	} else {
		s.chunks[ci] = c
	}
	s.n++
	return true
}

// remove deletes k and reports whether it was there.
func (s *ordered[K]) remove(k K) bool {
	ci := s.locate(k)
	if ci == len(s.chunks) {
		return false
	}
	c := s.chunks[ci]
	i := lowerBound(c, k)
	if c[i].Compare(k) != 0 {
		return false
	}
	c = slices.Delete(c, i, i+1)
	s.n--
	switch {
	case len(c) == 0:
		s.chunks = slices.Delete(s.chunks, ci, ci+1)
		return true
	case ci+1 < len(s.chunks) && len(c)+len(s.chunks[ci+1]) <= chunkSize/2:
		// Merge sparse neighbours so churn cannot leave a long list of tiny chunks.
		c = append(c, s.chunks[ci+1]...)
		s.chunks = slices.Delete(s.chunks, ci+1, ci+2)
	}
	s.chunks[ci] = c
	return true
}

// after yields, in order, the keys above k.
func (s *ordered[K]) after(k K) iter.Seq[K] {
	return func(yield func(K) bool) {
		if s == nil {
			return
		}
		ci := s.locate(k)
		if ci == len(s.chunks) {
			return
		}
		i := lowerBound(s.chunks[ci], k)
		if c := s.chunks[ci]; i < len(c) && c[i].Compare(k) == 0 {
			i++
		}
		for ; ci < len(s.chunks); ci, i = ci+1, 0 {
			for _, key := range s.chunks[ci][i:] {
				if !yield(key) {
					return
				}
			}
		}
	}
}

// all yields every key in order.
func (s *ordered[K]) all() iter.Seq[K] {
	return func(yield func(K) bool) {
		if s == nil {
			return
		}
		for _, c := range s.chunks {
			for _, key := range c {
				if !yield(key) {
					return
				}
			}
		}
	}
}
