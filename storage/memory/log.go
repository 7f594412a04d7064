package memory

import (
	"time"
	"unsafe"

	"github.com/refkit/refkit/referral"
)

// The event log holds every event a store was given, for as long as the store
// lives: a simulation keeps millions. Events are therefore kept in a compact
// form with no Go pointers in it, so the garbage collector never scans the log
// and appends need no write barriers; their strings live in an append-only byte
// arena. This is what keeps UpdateReferral's cost flat as the log grows.

// logChunk is the number of events per block of the log. Growing the log by
// fixed blocks, not by doubling one slice, never copies old events.
const logChunk = 4096

// arenaBlock is the size of one block of string bytes.
const arenaBlock = 64 << 10

// text is a string in the arena; the zero text is "".
type text struct {
	block, off, n uint32
}

// storedEvent is a referral.Event without pointers. At is kept as Unix seconds
// and nanoseconds plus an index into the log's table of locations.
type storedEvent struct {
	network, referral                   referral.ID
	actorNetwork, actorOrg, actorPerson referral.ID
	sequence                            int64
	atSec                               int64
	atNsec                              int32
	atLoc                               uint32
	typ, from, to, role                 text
	user, reason, note                  text
}

// eventLog is every network's events in one append-only sequence; an event's
// position is its index in it plus one, so positions increase across the whole
// store and therefore within each network.
type eventLog struct {
	blocks [][]storedEvent
	n      int64
	bytes  [][]byte
	// locs maps location indexes to locations; index 0 is UTC. Hosts use one or
	// two zones, so the linear search in loc is short.
	locs []*time.Location
}

// append stores e at the next position and returns it with Position set and its
// time stripped of any monotonic reading, as the log keeps it.
func (l *eventLog) append(e referral.Event) referral.Event {
	l.n++
	e.Position = l.n
	e.At = e.At.Round(0)
	last := len(l.blocks) - 1
	if last < 0 || len(l.blocks[last]) == logChunk {
		l.blocks = append(l.blocks, make([]storedEvent, 0, logChunk))
		last++
	}
	l.blocks[last] = append(l.blocks[last], storedEvent{
		network: e.Network, referral: e.Referral,
		actorNetwork: e.Actor.Network, actorOrg: e.Actor.Organization, actorPerson: e.Actor.Person,
		sequence: e.Sequence,
		atSec:    e.At.Unix(), atNsec: int32(e.At.Nanosecond()), atLoc: l.loc(e.At.Location()),
		typ: l.text(string(e.Type)), from: l.text(string(e.From)), to: l.text(string(e.To)),
		role: l.text(string(e.Actor.Role)), user: l.text(e.Actor.User),
		reason: l.text(e.Reason), note: l.text(e.Note),
	})
	return e
}

// at returns the event at position pos, which must exist. Its strings share the
// arena's bytes, which are never written again.
func (l *eventLog) at(pos int64) referral.Event {
	i := pos - 1
	se := &l.blocks[i/logChunk][i%logChunk]
	at := time.Unix(se.atSec, int64(se.atNsec))
	if se.atLoc == 0 {
		at = at.UTC()
	} else {
		at = at.In(l.locs[se.atLoc])
	}
	return referral.Event{
		Position: pos, Network: se.network, Referral: se.referral, Sequence: se.sequence,
		Type: referral.EventType(l.string(se.typ)),
		Actor: referral.Actor{
			Network: se.actorNetwork, Organization: se.actorOrg, Person: se.actorPerson,
			Role: referral.Role(l.string(se.role)), User: l.string(se.user),
		},
		At: at, From: referral.Status(l.string(se.from)), To: referral.Status(l.string(se.to)),
		Reason: l.string(se.reason), Note: l.string(se.note),
	}
}

// loc returns the index of loc in the location table, adding it if new.
func (l *eventLog) loc(loc *time.Location) uint32 {
	if loc == time.UTC {
		return 0
	}
	for i, x := range l.locs {
		if x == loc {
			return uint32(i)
		}
	}
	if len(l.locs) == 0 {
		l.locs = append(l.locs, time.UTC)
	}
	l.locs = append(l.locs, loc)
	return uint32(len(l.locs) - 1)
}

// text copies s into the arena.
func (l *eventLog) text(s string) text {
	if s == "" {
		return text{}
	}
	last := len(l.bytes) - 1
	if last < 0 || len(l.bytes[last])+len(s) > cap(l.bytes[last]) {
		l.bytes = append(l.bytes, make([]byte, 0, max(arenaBlock, len(s))))
		last++
	}
	b := l.bytes[last]
	l.bytes[last] = append(b, s...)
	return text{block: uint32(last), off: uint32(len(b)), n: uint32(len(s))}
}

// string returns the arena's bytes for t as a string without copying: arena
// bytes are written once and never modified, which is what unsafe.String needs.
func (l *eventLog) string(t text) string {
	if t.n == 0 {
		return ""
	}
	return unsafe.String(&l.bytes[t.block][t.off], t.n)
}

// eraseNote blanks the note of the event at pos and reports whether it had
// one. Callers hold the write lock, so no reader is decoding the event.
func (l *eventLog) eraseNote(pos int64) bool {
	i := pos - 1
	se := &l.blocks[i/logChunk][i%logChunk]
	if se.note.n == 0 {
		return false
	}
	se.note = text{}
	return true
}
