package memory

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// TestReferralRoundTrip checks that the compact record gives back exactly the
// referral it was given (its times without a monotonic reading), whatever its
// zones, strings and needs, and when rewritten over an earlier version.
func TestReferralRoundTrip(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	gen := referral.NewIDGenerator(func() time.Time { return time.Unix(1700000000, 0) }, rand.NewChaCha8([32]byte{1}))
	at := time.Date(2025, 3, 3, 9, 30, 0, 123456789, time.UTC)
	base := referral.Referral{
		ID: gen.MustNew(), Network: gen.MustNew(), Person: gen.MustNew(),
		Needs: []referral.Need{
			{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "ahc-hrsn", Screening: gen.MustNew()},
			{Domain: referral.HousingInstability, Urgency: referral.Routine},
		},
		Sender: gen.MustNew(), SenderUser: "navigator-1", Receiver: gen.MustNew(), Service: gen.MustNew(), Location: gen.MustNew(),
		Status: referral.StatusAccepted, Priority: referral.Urgent, BusinessStatus: referral.BusinessCancelRequested,
		Reason: "waitlisted", CancelReason: "moved-away", Outcome: &referral.Outcome{Code: "got-help", Note: "housed"},
		AcknowledgeBy: at.Add(time.Hour), AcceptBy: at.Add(2 * time.Hour), Escalated: at.Add(3 * time.Hour),
		NextDeadline: at.Add(4 * time.Hour), Sent: at.Add(5 * time.Hour), Acknowledged: at.Add(6 * time.Hour),
		Accepted: at.Add(7 * time.Hour), Closed: at.Add(8 * time.Hour), Created: at, Updated: at.Add(9 * time.Hour),
		Version: 7, IdempotencyKey: "key-1", Replaces: gen.MustNew(),
	}
	// Every field is set, so a field added to referral.Referral that the
	// record does not keep fails here.
	v := reflect.ValueOf(base)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "base leaves %s unset", v.Type().Field(i).Name)
	}
	many := make([]referral.Need, 50)
	for i := range many {
		many[i] = referral.Need{Domain: referral.FinancialInsecurity, Urgency: referral.Emergent, Screening: gen.MustNew()}
	}
	tests := []struct {
		name   string
		mutate func(r *referral.Referral)
	}{
		{"utc", func(*referral.Referral) {}},
		{"named zone", func(r *referral.Referral) {
			for _, p := range timesOf(r) {
				*p = p.In(ny)
			}
		}},
		{"mixed zones", func(r *referral.Referral) {
			r.Created, r.NextDeadline = r.Created.In(ny), r.NextDeadline.In(time.Local)
		}},
		{"monotonic clock reading", func(r *referral.Referral) { r.Updated = time.Now() }},
		{"before 1970", func(r *referral.Referral) { r.Created = time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC) }},
		{"zero times, no outcome, empty strings", func(r *referral.Referral) {
			r.AcknowledgeBy, r.AcceptBy, r.Escalated, r.NextDeadline = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			r.Sent, r.Acknowledged, r.Accepted, r.Closed = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			r.Outcome, r.SenderUser, r.Reason, r.CancelReason, r.BusinessStatus, r.IdempotencyKey = nil, "", "", "", "", ""
			r.Service, r.Location, r.Replaces = referral.NilID, referral.NilID, referral.NilID
		}},
		{"outcome without a note", func(r *referral.Referral) { r.Outcome = &referral.Outcome{Code: "got-help"} }},
		{"fifty needs", func(r *referral.Referral) { r.Needs = many }},
		{"one need", func(r *referral.Referral) { r.Needs = r.Needs[:1] }},
		{"long strings", func(r *referral.Referral) {
			r.IdempotencyKey, r.Outcome.Note = strings.Repeat("k", 200), strings.Repeat("note ", arenaBlock/4)
		}},
	}
	s := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.Clone()
			tc.mutate(&r)
			want := r.Clone()
			for _, p := range timesOf(&want) {
				*p = p.Round(0)
			}
			i := s.recs.add()
			s.encode(i, &r, false)
			require.Equal(t, want, s.get(i))
			// Rewritten over another version, in place, keeping its needs.
			j := s.recs.add()
			other := base.Clone()
			other.Created = other.Created.In(ny) // mixed zones, to be replaced
			s.encode(j, &other, false)
			require.True(t, s.sameNeeds(j, r.Needs) == s.sameNeeds(i, other.Needs))
			s.encode(j, &r, s.sameNeeds(j, r.Needs))
			require.Equal(t, want, s.get(j))
			require.True(t, s.sameNeeds(j, r.Needs))
		})
	}
	// Records written earlier are intact after later ones filled new blocks.
	first := s.get(0)
	for range 2 * refChunk {
		r := base
		r.Needs = many
		s.encode(s.recs.add(), &r, false)
	}
	require.Equal(t, first, s.get(0))
}

// TestReferralRecordSize: a referral's record holds no pointer, and a million
// of them take about a third of what referral.Referral values would.
func TestReferralRecordSize(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(storedReferral{}), uintptr(368))
	require.Greater(t, unsafe.Sizeof(referral.Referral{}), uintptr(500))
	for _, typ := range []reflect.Type{reflect.TypeFor[storedReferral](), reflect.TypeFor[storedNeed](), reflect.TypeFor[storedEvent]()} {
		for i := range typ.NumField() {
			switch typ.Field(i).Type.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.String, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan:
				t.Errorf("%s.%s holds a pointer", typ.Name(), typ.Field(i).Name)
			}
		}
	}
}

// TestEventLinks checks the links from each event to its referral's previous
// one, including one too far back for the event's own field.
func TestEventLinks(t *testing.T) {
	var l eventLog
	a, b := referral.NewID(), referral.NewID()
	var last [2]int64
	for i := range 3 * logChunk {
		k := i % 3 / 2 // a, a, b, a, a, b, ...
		last[k] = l.append(referral.Event{Referral: [2]referral.ID{a, b}[k], Type: referral.EventNote}, last[k]).Position
	}
	for k, id := range [2]referral.ID{a, b} {
		positions := l.positions(last[k], 1)
		require.Len(t, positions, []int{2 * logChunk, logChunk}[k])
		for j, pos := range positions {
			require.Equal(t, id, l.at(pos).Referral)
			if j > 0 {
				require.Less(t, positions[j-1], pos)
			}
		}
	}

	// A gap of 2³² positions or more is kept aside.
	far := eventLog{n: 1 << 33}
	pos := far.append(referral.Event{Type: referral.EventNote}, 5).Position
	require.Equal(t, uint32(farPrev), far.blocks[0][0].prev)
	require.Equal(t, int64(5), far.farPrev[pos])
}
