package memory

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// TestEventLogRoundTrip checks that the compact log gives back exactly the event
// it was given, whatever its zone, strings or size.
func TestEventLogRoundTrip(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	gen := referral.NewIDGenerator(func() time.Time { return time.Unix(1700000000, 0) }, strings.NewReader(strings.Repeat("entropy!", 64)))
	base := referral.Event{
		Network: gen.MustNew(), Referral: gen.MustNew(), Sequence: 3, Type: referral.EventHeld,
		Actor: referral.Actor{Network: gen.MustNew(), Organization: gen.MustNew(), User: "case-worker", Role: referral.RoleStaff},
		At:    time.Date(2025, 3, 3, 9, 30, 0, 123456789, time.UTC), From: referral.StatusInProgress, To: referral.StatusOnHold,
		Reason: "client-unavailable", Note: "called twice",
	}
	tests := []struct {
		name   string
		mutate func(e *referral.Event)
	}{
		{"utc", func(*referral.Event) {}},
		{"named zone", func(e *referral.Event) { e.At = e.At.In(ny) }},
		{"local zone", func(e *referral.Event) { e.At = e.At.In(time.Local) }},
		{"zero time and empty strings", func(e *referral.Event) {
			e.At, e.Reason, e.Note, e.From, e.Actor = time.Time{}, "", "", "", referral.Actor{}
		}},
		{"before 1970", func(e *referral.Event) { e.At = time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC) }},
		{"note larger than an arena block", func(e *referral.Event) { e.Note = strings.Repeat("long note ", arenaBlock/5) }},
		{"host-defined codes", func(e *referral.Event) { e.Type, e.Actor.Role = "custom-event", "custom-role" }},
		{"delegate actor", func(e *referral.Event) {
			e.Actor = referral.Actor{Network: e.Network, Person: gen.MustNew(), Role: referral.RoleDelegate}
		}},
	}
	var l eventLog
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			tc.mutate(&e)
			stored := l.append(e, 0)
			e.Position = l.n
			require.Equal(t, e, stored)
			require.Equal(t, e, l.at(stored.Position))
		})
	}
	// Earlier events are intact after later appends filled new blocks.
	for range 2 * logChunk {
		l.append(base, 0)
	}
	first := base
	first.Position = 1
	require.Equal(t, first, l.at(1))
}

// TestEventLogMonotonic checks that a clock reading's monotonic part is dropped,
// so what UpdateReferral returns equals what ReferralEvents later reads.
func TestEventLogMonotonic(t *testing.T) {
	var l eventLog
	now := time.Now()
	stored := l.append(referral.Event{At: now, Type: referral.EventNote}, 0)
	require.True(t, stored.At.Equal(now))
	require.Equal(t, stored, l.at(stored.Position))
}

// TestEventLogKeepsRepeatedStringsOnce: a million-event log of a simulation
// repeats a handful of types, statuses, roles and reasons; each is kept once,
// so the arena holds only the notes, and an event takes 128 bytes.
func TestEventLogKeepsRepeatedStringsOnce(t *testing.T) {
	require.Equal(t, uintptr(128), unsafe.Sizeof(storedEvent{}))
	network := referral.NewID()
	var l eventLog
	for i := range 10_000 {
		e := referral.Event{
			Network: network, Referral: network, Sequence: int64(i + 1), Type: referral.EventAccepted,
			Actor: referral.Actor{Network: network, User: "simulation", Role: referral.RoleStaff},
			At:    time.Unix(int64(i), 0).UTC(), From: referral.StatusRequested, To: referral.StatusAccepted, Reason: "waitlisted",
		}
		require.Equal(t, e.Reason, l.at(l.append(e, 0).Position).Reason)
	}
	arena := 0
	for _, b := range l.bytes {
		arena += len(b)
	}
	require.Less(t, arena, 100, "each distinct string once, not once per event")
	require.Len(t, l.symbols, 6, `"", and five distinct strings: the type and the new status are both "accepted"`)
	require.Empty(t, l.actorNetworks, "the actor's network is the event's")
}
