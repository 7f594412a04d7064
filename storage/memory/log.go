package memory

import (
	"math"
	"slices"
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

// symbol names an interned string: an index into eventLog.symbols; 0 is "".
type symbol uint32

// storedEvent is a referral.Event without pointers, in 128 bytes. At is kept as
// Unix seconds and nanoseconds plus an index into the log's table of
// locations. The short strings (type, statuses, role, user, reason) repeat
// from event to event, so each distinct one is kept once in the arena and
// named by a symbol; only the note is the event's own text. The actor's
// network is the event's (every write checks so) and is kept apart, in
// eventLog.actorNetworks, in the case it is not, which the top bit of
// atNsec marks. prev links the referral's events, latest first, so a
// referral keeps only the position of its latest event.
type storedEvent struct {
	network, referral     referral.ID
	actorOrg, actorPerson referral.ID
	sequence              int64
	atSec                 int64
	atNsec                uint32
	atLoc                 uint32
	typ, from, to, role   symbol
	user, reason          symbol
	note                  text
	// prev is the position minus that of the referral's previous event: 0
	// for its first, farPrev for a gap of 2³²−1 positions or more (which
	// eventLog.farPrev then holds).
	prev uint32
}

// otherNetwork marks, in storedEvent.atNsec, an actor of another network
// than the event's; nanoseconds never reach it.
const otherNetwork = 1 << 31

// farPrev in storedEvent.prev sends the reader to eventLog.farPrev.
const farPrev = math.MaxUint32

// symbolCache is the size of the direct-mapped cache in front of the symbol
// map: the few strings nearly every event repeats are found without hashing.
const symbolCache = 256

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
	// symbols are the interned strings and symbolOf finds them; cache is
	// consulted first.
	symbols  []text
	symbolOf map[string]symbol
	cache    [symbolCache]struct {
		s   string
		sym symbol
	}
	// actorNetworks holds, by position, the actor's network of events whose
	// actor belongs to another network than the event.
	actorNetworks map[int64]referral.ID
	// farPrev holds, by position, the previous event of the same referral
	// when it is too far back for storedEvent.prev.
	farPrev map[int64]int64
}

// append stores e at the next position, after prev, the position of the
// referral's previous event (0 for none), and returns it with Position set
// and its time stripped of any monotonic reading, as the log keeps it.
func (l *eventLog) append(e referral.Event, prev int64) referral.Event {
	l.n++
	e.Position = l.n
	e.At = e.At.Round(0)
	last := len(l.blocks) - 1
	if last < 0 || len(l.blocks[last]) == logChunk {
		l.blocks = append(l.blocks, make([]storedEvent, 0, logChunk))
		last++
	}
	se := storedEvent{
		network: e.Network, referral: e.Referral, actorOrg: e.Actor.Organization, actorPerson: e.Actor.Person,
		sequence: e.Sequence,
		atSec:    e.At.Unix(), atNsec: uint32(e.At.Nanosecond()), atLoc: l.loc(e.At.Location()),
		typ: l.intern(string(e.Type)), from: l.intern(string(e.From)), to: l.intern(string(e.To)),
		role: l.intern(string(e.Actor.Role)), user: l.intern(e.Actor.User), reason: l.intern(e.Reason),
		note: l.text(e.Note),
	}
	if e.Actor.Network != e.Network {
		if l.actorNetworks == nil {
			l.actorNetworks = map[int64]referral.ID{}
		}
		l.actorNetworks[e.Position] = e.Actor.Network
		se.atNsec |= otherNetwork
	}
	if prev > 0 {
		if gap := e.Position - prev; gap < farPrev {
			se.prev = uint32(gap)
		} else {
			if l.farPrev == nil {
				l.farPrev = map[int64]int64{}
			}
			l.farPrev[e.Position] = prev
			se.prev = farPrev
		}
	}
	l.blocks[last] = append(l.blocks[last], se)
	return e
}

// previous returns the position of the event before pos of the same
// referral, 0 for none.
func (l *eventLog) previous(pos int64) int64 {
	i := pos - 1
	switch p := l.blocks[i/logChunk][i%logChunk].prev; p {
	case 0:
		return 0
	case farPrev:
		return l.farPrev[pos]
	default:
		return pos - int64(p)
	}
}

// positions returns the positions of a referral's events in order, from
// that of its latest, last, and its number of events, n (a capacity hint).
func (l *eventLog) positions(last int64, n int64) []int64 {
	out := make([]int64, 0, max(1, min(n, 1024)))
	for pos := last; pos > 0; pos = l.previous(pos) {
		out = append(out, pos)
	}
	slices.Reverse(out)
	return out
}

// at returns the event at position pos, which must exist. Its strings share the
// arena's bytes, which are never written again.
func (l *eventLog) at(pos int64) referral.Event {
	i := pos - 1
	se := &l.blocks[i/logChunk][i%logChunk]
	at := l.time(se.atSec, int32(se.atNsec&^otherNetwork), se.atLoc)
	actorNetwork := se.network
	if se.atNsec&otherNetwork != 0 {
		actorNetwork = l.actorNetworks[pos]
	}
	return referral.Event{
		Position: pos, Network: se.network, Referral: se.referral, Sequence: se.sequence,
		Type: referral.EventType(l.symbol(se.typ)),
		Actor: referral.Actor{
			Network: actorNetwork, Organization: se.actorOrg, Person: se.actorPerson,
			Role: referral.Role(l.symbol(se.role)), User: l.symbol(se.user),
		},
		At: at, From: referral.Status(l.symbol(se.from)), To: referral.Status(l.symbol(se.to)),
		Reason: l.symbol(se.reason), Note: l.string(se.note),
	}
}

// time is the instant sec, nsec (as Unix and Nanosecond give them) in the
// location of index loc.
func (l *eventLog) time(sec int64, nsec int32, loc uint32) time.Time {
	t := time.Unix(sec, int64(nsec))
	if loc == 0 {
		return t.UTC()
	}
	return t.In(l.locs[loc])
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

// intern returns the symbol of s, copying s into the arena the first time.
// Distinct strings are stored once each, so a host's own reasons or user
// names cost no more than they did as texts.
func (l *eventLog) intern(s string) symbol {
	if s == "" {
		return 0
	}
	c := &l.cache[(len(s)*31+int(s[0])*7+int(s[len(s)-1]))%symbolCache]
	if c.sym != 0 && c.s == s {
		return c.sym
	}
	if l.symbolOf == nil {
		l.symbolOf = map[string]symbol{}
		l.symbols = append(l.symbols, text{})
	}
	sym, ok := l.symbolOf[s]
	if !ok {
		t := l.text(s)
		sym = symbol(len(l.symbols))
		l.symbols = append(l.symbols, t)
		// The key shares the arena's bytes, which are never written again.
		l.symbolOf[l.string(t)] = sym
	}
	c.s, c.sym = l.string(l.symbols[sym]), sym
	return sym
}

// symbol returns the string a symbol names.
func (l *eventLog) symbol(s symbol) string {
	if s == 0 {
		return ""
	}
	return l.string(l.symbols[s])
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
