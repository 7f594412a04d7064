package matching

import (
	"strconv"

	"github.com/refkit/refkit/referral"
)

// Published capacity changes far more often than anything else in a directory: a
// simulation, or a host relaying partners' slot counts, changes one service's
// capacity between two searches. Snapshots therefore keep capacity apart from
// the service table, in capTable, two persistent radix arrays: a capacity update
// copies only the paths to each changed entry (about 9 KB), shares the rest with
// the snapshot it came from, and never touches the service table, the geo index
// or the area lists. Every snapshot still sees one consistent capacity per
// service, so a request sees the capacities wholly before or wholly after an
// update.

// capEntry is one service's published capacity.
type capEntry struct {
	available, waitlist int
	class               capClass // capUntracked: no capacity published
}

// The radix array's shape: leaves of capLeafSize entries, under middle nodes of
// capMidSize leaves, under a root slice as long as the directory needs.
const (
	capLeafBits = 7
	capMidBits  = 7
	capLeafSize = 1 << capLeafBits
	capMidSize  = 1 << capMidBits
)

type (
	capLeaf [capLeafSize]capEntry
	capMid  [capMidSize]*capLeaf
)

// classLeafSize is the number of capacity classes in one leaf of the class
// array: a page of bytes.
const (
	classLeafBits = 12
	classLeafSize = 1 << classLeafBits
)

type classLeaf [classLeafSize]capClass

// capTable is an immutable array of capEntry by service index. A snapshot's
// table is never written after the snapshot is published; edit makes a new table
// sharing every node it does not change. The classes, which every candidate of
// every search reads, are also kept apart, one byte per service under a short
// root: a directory's classes stay in cache where its entries would not.
type capTable struct {
	classes []*classLeaf
	mids    []*capMid
}

func newCapTable(n int) capTable {
	leaves := (n + capLeafSize - 1) / capLeafSize
	t := capTable{mids: make([]*capMid, (leaves+capMidSize-1)/capMidSize)}
	t.classes = make([]*classLeaf, (n+classLeafSize-1)/classLeafSize)
	for i := range t.classes {
		t.classes[i] = new(classLeaf)
	}
	for l := range leaves {
		m := t.mids[l/capMidSize]
		if m == nil {
			m = new(capMid)
			t.mids[l/capMidSize] = m
		}
		m[l%capMidSize] = new(capLeaf)
	}
	return t
}

// at returns the entry of service i, which must exist. The pointer is into an
// immutable node: read it, never write it.
func (t capTable) at(i int32) *capEntry {
	return &t.mids[i>>(capLeafBits+capMidBits)][(i>>capLeafBits)&(capMidSize-1)][i&(capLeafSize-1)]
}

// class returns the capacity class of service i.
func (t capTable) class(i int32) capClass { return t.classes[i>>classLeafBits][i&(classLeafSize-1)] }

// set writes service i's entry in a table under construction (build's own, not
// yet published).
func (t capTable) set(i int32, c *referral.Capacity) {
	e := entryOf(c)
	*t.at(i) = e
	t.classes[i>>classLeafBits][i&(classLeafSize-1)] = e.class
}

// capEdit makes a new table from an old one, copying each node on its first
// change: nodes still shared with the old table are the ones to copy.
type capEdit struct {
	old, next capTable
}

func (t capTable) edit() *capEdit {
	return &capEdit{old: t, next: capTable{
		classes: append([]*classLeaf(nil), t.classes...),
		mids:    append([]*capMid(nil), t.mids...),
	}}
}

// set replaces service i's entry in the new table.
func (e *capEdit) set(i int32, c *referral.Capacity) {
	hi, mid := i>>(capLeafBits+capMidBits), (i>>capLeafBits)&(capMidSize-1)
	m := e.next.mids[hi]
	if m == e.old.mids[hi] {
		cp := *m
		m = &cp
		e.next.mids[hi] = m
	}
	leaf := m[mid]
	if leaf == e.old.mids[hi][mid] {
		cp := *leaf
		leaf = &cp
		m[mid] = leaf
	}
	entry := entryOf(c)
	leaf[i&(capLeafSize-1)] = entry
	ci := i >> classLeafBits
	cl := e.next.classes[ci]
	if cl == e.old.classes[ci] {
		cp := *cl
		cl = &cp
		e.next.classes[ci] = cl
	}
	cl[i&(classLeafSize-1)] = entry.class
}

func entryOf(c *referral.Capacity) capEntry {
	if c == nil {
		return capEntry{}
	}
	return capEntry{available: c.Available, waitlist: c.Waitlist, class: classOf(c)}
}

// capacity returns the entry as the capacity it was published as; nil when none.
func (e *capEntry) capacity() *referral.Capacity {
	if e.class == capUntracked {
		return nil
	}
	return &referral.Capacity{Available: e.available, Waitlist: e.waitlist}
}

// openTexts are the "N open" reason values of small slot counts, made once, so a
// match's capacity reason costs no allocation in the common case.
var openTexts = func() [64]string {
	var out [64]string
	for i := range out {
		out[i] = strconv.Itoa(i) + " open"
	}
	return out
}()

// reason is the reason a match carries about the entry's capacity, if any.
func (e *capEntry) reason() Reason {
	switch e.class {
	case capUntracked:
		return Reason{}
	case capOpen:
		if e.available < len(openTexts) {
			return Reason{ReasonCapacity, openTexts[e.available]}
		}
		return Reason{ReasonCapacity, strconv.Itoa(e.available) + " open"}
	case capWaitlist:
		return Reason{Code: ReasonWaitlist}
	}
	return Reason{Code: ReasonNoCapacity}
}
