package simulation

// dueEntry is a referral with a pending lifecycle deadline.
type dueEntry struct {
	at  int64 // see stamp
	ref int32
}

// dueHeap orders pending deadlines, earliest first, ties by referral.
type dueHeap struct{ e []dueEntry }

func (h *dueHeap) less(i, j int) bool {
	if a, b := h.e[i].at, h.e[j].at; a != b {
		return a < b
	}
	return h.e[i].ref < h.e[j].ref
}

func (h *dueHeap) len() int        { return len(h.e) }
func (h *dueHeap) peek() *dueEntry { return &h.e[0] }

func (h *dueHeap) push(d dueEntry) {
	h.e = append(h.e, d)
	for i := len(h.e) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.e[i], h.e[p] = h.e[p], h.e[i]
		i = p
	}
}

func (h *dueHeap) pop() dueEntry {
	top := h.e[0]
	last := len(h.e) - 1
	h.e[0] = h.e[last]
	h.e = h.e[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.e[i], h.e[m] = h.e[m], h.e[i]
		i = m
	}
	return top
}
