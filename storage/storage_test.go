package storage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

var (
	ids                                      = referral.NewIDGenerator(nil, nil)
	network, sender, receiver, third, person = ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	now                                      = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
)

func sample(status referral.Status) referral.Referral {
	return referral.Referral{
		ID: ids.MustNew(), Network: network, Person: person, Sender: sender, Receiver: receiver,
		Needs:  []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		Status: status, Priority: referral.Routine, Created: now, Updated: now, Version: 1,
	}
}

func TestVisibilityAllows(t *testing.T) {
	view := referral.Consent{ID: ids.MustNew(), Network: network, Person: person, Grantee: third, Scope: referral.ScopeView,
		Period: referral.Period{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}
	share := view
	share.Scope = referral.ScopeReferral
	delegate := storage.Visibility{Person: person, At: now}
	tests := []struct {
		name     string
		v        storage.Visibility
		status   referral.Status
		sent     bool
		consents []referral.Consent
		want     bool
	}{
		{"sender sees a withdrawn draft", storage.Visibility{Organization: sender, At: now}, referral.StatusCancelled, false, nil, true},
		{"receiver does not see a draft withdrawn unsent", storage.Visibility{Organization: receiver, At: now}, referral.StatusCancelled, false, nil, false},
		{"receiver does not see a draft entered in error", storage.Visibility{Organization: receiver, At: now}, referral.StatusEnteredInError, false, nil, false},
		{"receiver sees a referral cancelled after it was sent", storage.Visibility{Organization: receiver, At: now}, referral.StatusCancelled, true, nil, true},
		{"view consent does not show a draft", storage.Visibility{Organization: third, At: now}, referral.StatusDraft, false, []referral.Consent{view}, false},
		{"delegate does not see a draft", delegate, referral.StatusDraft, false, nil, false},
		{"delegate sees a sent referral", delegate, referral.StatusRequested, false, nil, true},
		{"delegate and sender: the sender part shows a draft", storage.Visibility{Organization: sender, Person: person, At: now}, referral.StatusDraft, false, nil, true},
		{"sender sees a draft", storage.Visibility{Organization: sender, At: now}, referral.StatusDraft, false, nil, true},
		{"receiver does not see a draft", storage.Visibility{Organization: receiver, At: now}, referral.StatusDraft, false, nil, false},
		{"receiver sees a sent referral", storage.Visibility{Organization: receiver, At: now}, referral.StatusRequested, false, nil, true},
		{"third organization sees nothing", storage.Visibility{Organization: third, At: now}, referral.StatusRequested, false, nil, false},
		{"view consent grants sight", storage.Visibility{Organization: third, At: now}, referral.StatusRequested, false, []referral.Consent{view}, true},
		{"expired view consent", storage.Visibility{Organization: third, At: now.Add(2 * time.Hour)}, referral.StatusRequested, false, []referral.Consent{view}, false},
		{"referral consent is not view consent", storage.Visibility{Organization: third, At: now}, referral.StatusRequested, false, []referral.Consent{share}, false},
		{"delegate of someone else", storage.Visibility{Person: ids.MustNew(), At: now}, referral.StatusRequested, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sample(tc.status)
			if tc.sent {
				r.Sent = now
			}
			require.Equal(t, tc.want, tc.v.Allows(r, tc.consents))
		})
	}
}

func TestUnsent(t *testing.T) {
	for _, st := range referral.Statuses() {
		for _, sent := range []bool{false, true} {
			r := sample(st)
			if sent {
				r.Sent = now
			}
			want := st == referral.StatusDraft ||
				(!sent && (st == referral.StatusCancelled || st == referral.StatusEnteredInError))
			require.Equal(t, want, storage.Unsent(r), "%s, sent %v", st, sent)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		ok       bool
	}{{0, storage.DefaultLimit, true}, {1, 1, true}, {storage.MaxLimit, storage.MaxLimit, true}, {-1, 0, false}, {storage.MaxLimit + 1, 0, false}} {
		got, err := storage.Limit(tc.in)
		if !tc.ok {
			require.ErrorIs(t, err, referral.ErrInvalid)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestCheckWrites(t *testing.T) {
	r := sample(referral.StatusRequested)
	actor := referral.Actor{Network: network, Organization: sender, Role: referral.RoleStaff}
	created := referral.Event{Network: network, Referral: r.ID, Sequence: 1, Type: referral.EventCreated, Actor: actor, At: now, To: r.Status}
	require.NoError(t, storage.CheckCreate(r, created))

	next := r.Clone()
	next.Status, next.Version = referral.StatusAccepted, 2
	accepted := referral.Event{Network: network, Referral: r.ID, Sequence: 2, Type: referral.EventAccepted, Actor: actor, At: now, From: r.Status, To: next.Status}
	require.NoError(t, storage.CheckUpdate(next, accepted))

	tests := []struct {
		name  string
		check func() error
		field string
	}{
		{"create at version 2", func() error { n := r; n.Version = 2; return storage.CheckCreate(n, created) }, "version"},
		{"first event with from", func() error { e := created; e.From = referral.StatusDraft; return storage.CheckCreate(r, e) }, "event.from"},
		{"event of another referral", func() error { e := created; e.Referral = ids.MustNew(); return storage.CheckCreate(r, e) }, "event.referral_id"},
		{"event without actor", func() error { e := created; e.Actor = referral.Actor{}; return storage.CheckCreate(r, e) }, "event.actor.network_id"},
		{"unknown event type", func() error { e := created; e.Type = "poked"; return storage.CheckCreate(r, e) }, "event.type"},
		{"update at version 1", func() error { return storage.CheckUpdate(r, created) }, "version"},
		{"sequence behind version", func() error { e := accepted; e.Sequence = 3; return storage.CheckUpdate(next, e) }, "event.sequence"},
		{"event to another status", func() error { e := accepted; e.To = referral.StatusCompleted; return storage.CheckUpdate(next, e) }, "event.to"},
		{"invalid referral", func() error { n := next; n.Needs = nil; return storage.CheckUpdate(n, accepted) }, "needs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

func ExampleVisibility_Allows() {
	r := sample(referral.StatusDraft)
	receiverView := storage.Visibility{Organization: receiver, At: now}
	fmt.Println(receiverView.Allows(r, nil))
	r.Status = referral.StatusRequested
	fmt.Println(receiverView.Allows(r, nil))
	// Output:
	// false
	// true
}

func TestMaxStatusesIsTheNumberOfStatuses(t *testing.T) {
	require.Len(t, referral.Statuses(), storage.MaxStatuses)
}

func TestForeignScreening(t *testing.T) {
	err := storage.ForeignScreening(3)
	require.ErrorIs(t, err, referral.ErrInvalid)
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "needs[3].screening_id", ve.Field)
}

func TestCheckQueries(t *testing.T) {
	network := referral.NewID()
	tests := []struct {
		name  string
		check func() (int, error)
		limit int
		field string
	}{
		{"page", func() (int, error) { return storage.CheckPage(network, storage.Page{Limit: 10}) }, 10, ""},
		{"page default limit", func() (int, error) { return storage.CheckPage(network, storage.Page{}) }, storage.DefaultLimit, ""},
		{"page without network", func() (int, error) { return storage.CheckPage(referral.NilID, storage.Page{}) }, 0, "network_id"},
		{"referrals", func() (int, error) {
			return storage.CheckReferralQuery(storage.ReferralQuery{Network: network, Statuses: []referral.Status{referral.StatusAccepted}})
		}, storage.DefaultLimit, ""},
		{"referrals with a bad status", func() (int, error) {
			return storage.CheckReferralQuery(storage.ReferralQuery{Network: network, Statuses: []referral.Status{referral.StatusAccepted, "done"}})
		}, 0, "statuses[1]"},
		{"referrals with every status", func() (int, error) {
			return storage.CheckReferralQuery(storage.ReferralQuery{Network: network, Statuses: referral.Statuses()})
		}, storage.DefaultLimit, ""},
		{"referrals with a repeated status", func() (int, error) {
			return storage.CheckReferralQuery(storage.ReferralQuery{Network: network,
				Statuses: []referral.Status{referral.StatusAccepted, referral.StatusDraft, referral.StatusAccepted}})
		}, 0, "statuses[2]"},
		{"referrals with a status list longer than the statuses", func() (int, error) {
			return storage.CheckReferralQuery(storage.ReferralQuery{Network: network, Statuses: make([]referral.Status, 100_000)})
		}, 0, "statuses"},
		{"feed", func() (int, error) { return storage.CheckFeed(storage.FeedQuery{Network: network, After: 5, Limit: 3}) }, 3, ""},
		{"feed without network", func() (int, error) { return storage.CheckFeed(storage.FeedQuery{}) }, 0, "network_id"},
		{"feed before the start", func() (int, error) { return storage.CheckFeed(storage.FeedQuery{Network: network, After: -1}) }, 0, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit, err := tt.check()
			if tt.field == "" {
				require.NoError(t, err)
				require.Equal(t, tt.limit, limit)
				return
			}
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			require.ErrorIs(t, err, referral.ErrInvalid)
		})
	}
}
