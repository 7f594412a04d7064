package simulation

// interned numbers the distinct values a replication's records repeat
// (statuses, reasons, needs): records hold the number, which has no pointer
// for the collector to follow, where a million of them would otherwise each
// hold strings. Its zero value is empty and usable.
type interned[T comparable] struct {
	index map[T]uint32
	list  []T
}

// of returns v's number, numbering it if new.
func (n *interned[T]) of(v T) uint32 {
	if i, ok := n.index[v]; ok {
		return i
	}
	if n.index == nil {
		n.index = map[T]uint32{}
	}
	i := uint32(len(n.list))
	n.index[v] = i
	n.list = append(n.list, v)
	return i
}

// at returns the value numbered i.
func (n *interned[T]) at(i uint32) T { return n.list[i] }
