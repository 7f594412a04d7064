package sqlite

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// TestQueryPlans checks that the queries the lifecycle and directory make are
// answered from an index, never by scanning a whole table.
func TestQueryPlans(t *testing.T) {
	s, _ := openTemp(t, Options{})
	id := blob(referral.NewID())
	listing := func(q storage.ReferralQuery) (string, []any) {
		var w where
		w.add("r.network_id = ?", id)
		w.add("r.id > ?", id)
		if !q.Receiver.IsZero() {
			w.add("r.receiver_id = ?", id)
		}
		if !q.Person.IsZero() {
			w.add("r.person_id = ?", id)
		}
		if !q.Sender.IsZero() {
			w.add("r.sender_id = ?", id)
		}
		if len(q.Statuses) > 0 {
			w.add("r.status IN (?, ?)", "requested", "accepted")
		}
		if q.Visible != nil {
			w.visible(*q.Visible)
		}
		from := `referrals r`
		if !q.Receiver.IsZero() && len(q.Statuses) > 0 {
			from = `referrals r INDEXED BY referrals_by_receiver_status`
		}
		return `SELECT r.data FROM ` + from + ` WHERE ` + w.sql() + ` ORDER BY r.id LIMIT ?`, append(w.args, 100)
	}
	some := referral.NewID()
	tests := []struct {
		name  string
		query string
		args  []any
	}{
		{"get referral", qGetReferral, []any{id, id}},
		{"referral events", qEvents, []any{id, id}},
		{"feed", qFeed, []any{id, 0, 100}},
		{"due referrals", qDueReferrals, []any{1, 100}},
		{"idempotency key", qByIdempotencyKey, []any{id, id, "k"}},
		{"consents of a person", qListConsents, []any{id, id}},
		{"screenings of a person", qListScreenings, []any{id, id}},
		{"services of a network", services.list, []any{id, id, 100}},
		{"organizations of a network", organizations.list, []any{id, id, 100}},
	}
	for _, q := range []struct {
		name string
		q    storage.ReferralQuery
	}{
		{"referrals of a network", storage.ReferralQuery{}},
		{"referrals by receiver and status", storage.ReferralQuery{Receiver: some, Statuses: []referral.Status{"requested"}}},
		{"referrals by receiver", storage.ReferralQuery{Receiver: some}},
		{"referrals by person", storage.ReferralQuery{Person: some}},
		{"referrals by sender", storage.ReferralQuery{Sender: some}},
		{"referrals visible to an organization", storage.ReferralQuery{Visible: &storage.Visibility{Organization: some}}},
	} {
		query, args := listing(q.q)
		tests = append(tests, struct {
			name  string
			query string
			args  []any
		}{q.name, query, args})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			t.Log(plan)
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") {
					require.Contains(t, step, "USING", "a full table scan: %v", plan)
				}
			}
		})
	}
}
