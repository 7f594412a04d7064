package memory

import (
	"math"
	"time"

	"github.com/refkit/refkit/referral"
)

// Referrals are kept, like events, in a compact form with no Go pointers in
// it: a store holding a simulation's million referrals then gives the
// garbage collector nothing to scan for them, and reading one touches a few
// cache lines instead of a large record and the slices it points to. The
// strings a referral repeats (statuses, codes, users) are symbols of the
// event log's arena, its own (idempotency key, outcome note) texts in it;
// its needs live in an arena of their own. Callers still get and give whole
// referral.Referral values: records are encoded on write and decoded on read.

// The indexes of a referral's times in storedReferral.
const (
	tAcknowledgeBy = iota
	tAcceptBy
	tEscalated
	tNextDeadline
	tSent
	tAcknowledged
	tAccepted
	tClosed
	tCreated
	tUpdated
	nTimes
)

// timesOf points at r's times, in the order of the t constants.
func timesOf(r *referral.Referral) [nTimes]*time.Time {
	return [nTimes]*time.Time{
		&r.AcknowledgeBy, &r.AcceptBy, &r.Escalated, &r.NextDeadline, &r.Sent,
		&r.Acknowledged, &r.Accepted, &r.Closed, &r.Created, &r.Updated,
	}
}

// mixedLoc in storedReferral.loc says the referral's times are in different
// locations, which refTable.mixed then holds, time by time.
const mixedLoc = math.MaxUint32

// storedReferral is a referral.Referral without pointers. Each time is Unix
// seconds and nanoseconds (zero says which are the zero time) and shares
// loc, an index into the event log's table of locations.
type storedReferral struct {
	id, network, person  referral.ID
	sender, receiver     referral.ID
	service, location    referral.ID
	replaces             referral.ID
	sec                  [nTimes]int64
	nsec                 [nTimes]int32
	version              int64
	lastEvent            int64  // position of the latest event (see eventLog.previous)
	needs                int64  // index in refTable's needs of the second need
	nNeeds               int32  // how many needs
	loc                  uint32 // location index of every time, or mixedLoc
	net                  uint32 // index of its network in Store.netList
	senderUser, status   symbol
	priority, business   symbol
	reason, cancelReason symbol
	outcomeCode          symbol
	outcomeNote          text
	idempotencyK         text
	// need0 is the first need, kept in the record: most referrals have one,
	// which is then read with the record instead of from elsewhere.
	need0      storedNeed
	zero       uint16 // bit k: time k is the zero time
	hasOutcome bool
}

// storedNeed is a referral.Need without pointers.
type storedNeed struct {
	domain, urgency, instrument symbol
	screening                   referral.ID
}

// Blocks of records and needs: the tables grow by fixed blocks, so growing
// never copies what is stored.
const (
	refChunk  = 1024
	needChunk = 4096
)

// refTable holds a store's referrals; a referral is named by its index.
type refTable struct {
	blocks [][]storedReferral
	n      int
	needs  [][]storedNeed
	// mixed holds, by index, the location of each time of a referral whose
	// times are not all in one location.
	mixed map[int][nTimes]uint32
}

// add appends a zero record and returns its index.
func (t *refTable) add() int {
	last := len(t.blocks) - 1
	if last < 0 || len(t.blocks[last]) == refChunk {
		t.blocks = append(t.blocks, make([]storedReferral, 0, refChunk))
		last++
	}
	t.blocks[last] = t.blocks[last][:len(t.blocks[last])+1]
	t.n++
	return t.n - 1
}

// at returns the record at index i, which must exist.
func (t *refTable) at(i int) *storedReferral {
	return &t.blocks[i/refChunk][i%refChunk]
}

// need returns the need at index i of the needs arena.
func (t *refTable) need(i int64) *storedNeed {
	return &t.needs[i/needChunk][i%needChunk]
}

// addNeeds appends needs to the needs arena and returns the index of the
// first. A referral's needs (at most 50: referral.Referral.Validate, which
// every write runs first) stay together in one block, so an index is its
// block times needChunk plus its offset.
func (t *refTable) addNeeds(l *eventLog, needs []referral.Need) int64 {
	if len(needs) == 0 {
		return 0
	}
	last := len(t.needs) - 1
	if last < 0 || len(t.needs[last])+len(needs) > needChunk {
		t.needs = append(t.needs, make([]storedNeed, 0, needChunk))
		last++
	}
	first := int64(last)*needChunk + int64(len(t.needs[last]))
	for _, n := range needs {
		t.needs[last] = append(t.needs[last], storeNeed(l, n))
	}
	return first
}

// storeNeed is n as a record keeps it.
func storeNeed(l *eventLog, n referral.Need) storedNeed {
	return storedNeed{
		domain: l.intern(string(n.Domain)), urgency: l.intern(string(n.Urgency)),
		instrument: l.intern(n.Instrument), screening: n.Screening,
	}
}

// needAt returns need k of the record.
func (t *refTable) needAt(rec *storedReferral, k int) *storedNeed {
	if k == 0 {
		return &rec.need0
	}
	return t.need(rec.needs + int64(k-1))
}

// encode writes r into the record at index i (needs too, unless keepNeeds
// says the record has them already). Callers hold the write lock.
func (s *Store) encode(i int, r *referral.Referral, keepNeeds bool) {
	rec, l := s.recs.at(i), &s.log
	rec.id, rec.network, rec.person = r.ID, r.Network, r.Person
	rec.sender, rec.receiver, rec.service, rec.location, rec.replaces = r.Sender, r.Receiver, r.Service, r.Location, r.Replaces
	rec.version = r.Version
	l.reintern(&rec.senderUser, r.SenderUser)
	l.reintern(&rec.status, string(r.Status))
	l.reintern(&rec.priority, string(r.Priority))
	l.reintern(&rec.business, string(r.BusinessStatus))
	l.reintern(&rec.reason, r.Reason)
	l.reintern(&rec.cancelReason, r.CancelReason)
	if !keepNeeds {
		rec.nNeeds, rec.need0, rec.needs = int32(len(r.Needs)), storedNeed{}, 0
		if len(r.Needs) > 0 {
			rec.need0 = storeNeed(l, r.Needs[0])
			rec.needs = s.recs.addNeeds(l, r.Needs[1:])
		}
	}
	// Unchanged texts are not copied again: a referral is written several
	// times with the same key and outcome.
	if l.string(rec.idempotencyK) != r.IdempotencyKey {
		rec.idempotencyK = l.text(r.IdempotencyKey)
	}
	if o := r.Outcome; o == nil {
		rec.hasOutcome, rec.outcomeCode, rec.outcomeNote = false, 0, text{}
	} else {
		if !rec.hasOutcome || l.string(rec.outcomeNote) != o.Note {
			rec.outcomeNote = l.text(o.Note)
		}
		rec.hasOutcome, rec.outcomeCode = true, l.intern(o.Code)
	}
	var locs [nTimes]uint32
	loc, mixed, found := uint32(0), false, false
	rec.zero = 0
	for k, t := range timesOf(r) {
		if t.IsZero() {
			rec.zero |= 1 << k
			rec.sec[k], rec.nsec[k] = 0, 0
			continue
		}
		rec.sec[k], rec.nsec[k] = t.Unix(), int32(t.Nanosecond())
		locs[k] = l.loc(t.Location())
		if !found {
			loc, found = locs[k], true
		} else if locs[k] != loc {
			mixed = true
		}
	}
	rec.loc = loc
	if mixed {
		rec.loc = mixedLoc
		if s.recs.mixed == nil {
			s.recs.mixed = map[int][nTimes]uint32{}
		}
		s.recs.mixed[i] = locs
	} else if s.recs.mixed != nil {
		delete(s.recs.mixed, i)
	}
}

// reintern sets *sym to the symbol of s. A string read from a record is the
// arena's own, so comparing it with the symbol's string is a pointer check:
// only a changed string is looked up.
func (l *eventLog) reintern(sym *symbol, s string) {
	if l.symbol(*sym) != s {
		*sym = l.intern(s)
	}
}

// decode returns the referral at index i without its needs and outcome
// (see complete), which is all the filters read; it allocates nothing.
// Callers hold the lock.
func (s *Store) decode(i int) referral.Referral {
	rec, l := s.recs.at(i), &s.log
	r := referral.Referral{
		ID: rec.id, Network: rec.network, Person: rec.person,
		Sender: rec.sender, SenderUser: l.symbol(rec.senderUser), Receiver: rec.receiver,
		Service: rec.service, Location: rec.location, Status: referral.Status(l.symbol(rec.status)),
		Priority: referral.Urgency(l.symbol(rec.priority)), BusinessStatus: referral.BusinessStatus(l.symbol(rec.business)),
		Reason: l.symbol(rec.reason), CancelReason: l.symbol(rec.cancelReason),
		Version: rec.version, IdempotencyKey: l.string(rec.idempotencyK), Replaces: rec.replaces,
	}
	var locs [nTimes]uint32
	if rec.loc == mixedLoc {
		locs = s.recs.mixed[i]
	} else {
		for k := range locs {
			locs[k] = rec.loc
		}
	}
	for k, t := range timesOf(&r) {
		if rec.zero&(1<<k) == 0 {
			*t = l.time(rec.sec[k], rec.nsec[k], locs[k])
		}
	}
	return r
}

// get returns the whole referral at index i, its needs and outcome the
// caller's own. Callers hold the lock.
func (s *Store) get(i int) referral.Referral {
	r := s.decode(i)
	s.complete(i, &r)
	return r
}

// complete adds to r, decoded from index i, new copies of its needs and
// outcome. Callers hold the lock.
func (s *Store) complete(i int, r *referral.Referral) {
	r.Needs = s.needsOf(i)
	if rec, l := s.recs.at(i), &s.log; rec.hasOutcome {
		r.Outcome = &referral.Outcome{Code: l.symbol(rec.outcomeCode), Note: l.string(rec.outcomeNote)}
	}
}

// needsOf returns a new copy of the needs of the referral at index i; nil
// for none. Callers hold the lock.
func (s *Store) needsOf(i int) []referral.Need {
	rec, l := s.recs.at(i), &s.log
	if rec.nNeeds == 0 {
		return nil
	}
	out := make([]referral.Need, rec.nNeeds)
	for k := range out {
		n := s.recs.needAt(rec, k)
		out[k] = referral.Need{
			Domain: referral.Domain(l.symbol(n.domain)), Urgency: referral.Urgency(l.symbol(n.urgency)),
			Instrument: l.symbol(n.instrument), Screening: n.screening,
		}
	}
	return out
}

// sameNeeds reports whether needs are the needs of the referral at index i.
// Callers hold the lock.
func (s *Store) sameNeeds(i int, needs []referral.Need) bool {
	rec, l := s.recs.at(i), &s.log
	if int(rec.nNeeds) != len(needs) {
		return false
	}
	for k, want := range needs {
		n := s.recs.needAt(rec, k)
		if n.screening != want.Screening || l.symbol(n.domain) != string(want.Domain) ||
			l.symbol(n.urgency) != string(want.Urgency) || l.symbol(n.instrument) != want.Instrument {
			return false
		}
	}
	return true
}

// deadline is the deadline index's key of the referral at index i, and
// false when it has no deadline. Callers hold the lock.
func (s *Store) deadline(i int) (deadlineKey, bool) {
	rec := s.recs.at(i)
	if rec.zero&(1<<tNextDeadline) != 0 {
		return deadlineKey{}, false
	}
	return deadlineKey{sec: rec.sec[tNextDeadline], nsec: rec.nsec[tNextDeadline], id: rec.id}, true
}
