package matching

// decided is the set of services an explain-off request has decided (at a
// location, or through an area), by index: an open-addressing hash set sized
// by what the request decides, a few dozen services, so that checking one
// reads a few hot cache lines where a slot per service in the directory would
// be a likely miss per check. A generation stamp empties it in constant time.
type decided struct {
	gen   uint32
	n     int
	slots []decidedSlot // a power of two long, at most half full
}

type decidedSlot struct {
	gen uint32
	svc int32
}

// minDecided is the initial number of slots.
const minDecided = 256

// reset empties the set.
func (d *decided) reset() {
	if d.slots == nil {
		d.slots = make([]decidedSlot, minDecided)
	}
	d.gen++
	d.n = 0
	if d.gen == 0 { // wrapped: stale stamps could match
		clear(d.slots)
		d.gen = 1
	}
}

// add adds svc and reports whether it was not in the set.
func (d *decided) add(svc int32) bool {
	if 2*(d.n+1) > len(d.slots) {
		d.grow()
	}
	mask := uint32(len(d.slots) - 1)
	for i := uint32(svc) * 0x9e3779b1 & mask; ; i = (i + 1) & mask {
		s := &d.slots[i]
		if s.gen != d.gen {
			*s = decidedSlot{gen: d.gen, svc: svc}
			d.n++
			return true
		}
		if s.svc == svc {
			return false
		}
	}
}

// grow doubles the slots, keeping the set.
func (d *decided) grow() {
	old := d.slots
	d.slots = make([]decidedSlot, 2*len(old))
	d.n = 0
	for _, s := range old {
		if s.gen == d.gen {
			d.add(s.svc)
		}
	}
}
