package simulation

// Event kinds.
const (
	evArrival uint8 = iota
	evAcknowledge
	evDecide
	evContact
	evFinish
	evSweep
	evAbandon
	evWaitExpire
	evChange
	evRefer
)

// event is one scheduled happening. at is nanoseconds of virtual time since the
// scenario's start; seq breaks ties in scheduling order, so the run does not
// depend on how the heap happens to arrange equal times.
type event struct {
	at   int64
	seq  uint64
	kind uint8
	arg  int32 // a site, a referral, a change or an episode, by kind
}

func (e *event) before(o *event) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// queue is a binary min-heap of events on (at, seq). It is written out rather
// than built on container/heap so pushing does not box every event.
type queue struct {
	ev  []event
	seq uint64
}

func (q *queue) len() int { return len(q.ev) }

func (q *queue) push(at int64, kind uint8, arg int32) {
	q.seq++
	q.ev = append(q.ev, event{at: at, seq: q.seq, kind: kind, arg: arg})
	i := len(q.ev) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.ev[i].before(&q.ev[p]) {
			break
		}
		q.ev[i], q.ev[p] = q.ev[p], q.ev[i]
		i = p
	}
}

func (q *queue) pop() event {
	top := q.ev[0]
	last := len(q.ev) - 1
	q.ev[0] = q.ev[last]
	q.ev = q.ev[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.ev[l].before(&q.ev[m]) {
			m = l
		}
		if r < last && q.ev[r].before(&q.ev[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.ev[i], q.ev[m] = q.ev[m], q.ev[i]
		i = m
	}
	return top
}
