package lifecycle_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/backendtest"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// backend opens an empty store of one kind, closed when the test ends.
type backend struct {
	name string
	open func(t *testing.T) storage.Store
}

// backends are every store refkit ships. The access rules are enforced by the
// stores' queries as much as by the engine, so the tests that state them run
// on each. PostgreSQL needs REFKIT_TEST_POSTGRES_URL and skips without it.
var backends = func() []backend {
	var out []backend
	for _, b := range backendtest.All(backendtest.Options{}) {
		out = append(out, backend{b.Name, func(t *testing.T) storage.Store { s, _ := b.Open(t); return s }})
	}
	return out
}()

// TestDraftsAreTheSenders holds every backend to the access rule for unsent
// referrals: a draft, and a draft withdrawn before it was sent, are the
// sender's alone. The receiver, an organization with a view consent and the
// person's delegate neither see them nor act on them, and are told
// ErrNotFound, as for a referral that does not exist.
func TestDraftsAreTheSenders(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b.open(t), nil)
			require.NoError(t, e.store.PutConsent(e.ctx, referral.Consent{
				ID: e.ids.MustNew(), Network: e.network, Person: e.person, Grantee: e.third, Scope: referral.ScopeView,
			}))
			delegate := referral.Actor{Network: e.network, Role: referral.RoleDelegate, Person: e.person, User: "guardian"}
			admin := referral.Actor{Network: e.network, Organization: e.third, Role: referral.RoleAdmin, User: "admin"}
			system := referral.Actor{Network: e.network, Role: referral.RoleSystem, User: "host"}

			draft, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
			require.NoError(t, err)
			withdrawn, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
			require.NoError(t, err)
			withdrawn, err = e.engine.Cancel(e.ctx, e.senderA, withdrawn.ID, "no-longer-needed", "")
			require.NoError(t, err)
			voided, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
			require.NoError(t, err)
			voided, err = e.engine.EnterInError(e.ctx, e.senderA, voided.ID, "wrong person")
			require.NoError(t, err)
			sent := e.create(t)
			unsent := []referral.Referral{draft, withdrawn, voided}

			outsiders := []struct {
				name  string
				actor referral.Actor
			}{{"receiver", e.receiverA}, {"view consent holder", e.thirdA}, {"delegate", delegate}}
			for _, o := range outsiders {
				t.Run(o.name, func(t *testing.T) {
					for _, r := range unsent {
						_, err := e.engine.Get(e.ctx, o.actor, r.ID)
						require.ErrorIs(t, err, referral.ErrNotFound, "%s may not see a %s referral never sent", o.name, r.Status)
						_, err = e.engine.History(e.ctx, o.actor, r.ID)
						require.ErrorIs(t, err, referral.ErrNotFound)
						_, err = e.engine.AddNote(e.ctx, o.actor, r.ID, "Seen it")
						require.ErrorIs(t, err, referral.ErrNotFound)
					}
					commands := map[string]func() error{
						"enter in error": func() error { _, err := e.engine.EnterInError(e.ctx, o.actor, draft.ID, "not ours"); return err },
						"cancel": func() error {
							_, err := e.engine.Cancel(e.ctx, o.actor, draft.ID, "client-declined", "")
							return err
						},
						"send":        func() error { _, err := e.engine.Send(e.ctx, o.actor, draft.ID); return err },
						"acknowledge": func() error { _, err := e.engine.Acknowledge(e.ctx, o.actor, draft.ID); return err },
						"accept":      func() error { _, err := e.engine.Accept(e.ctx, o.actor, draft.ID, ""); return err },
					}
					for name, command := range commands {
						require.ErrorIs(t, command(), referral.ErrNotFound, "%s may not %s a draft", o.name, name)
					}

					listed, _, err := e.engine.List(e.ctx, o.actor, lifecycle.ListQuery{})
					require.NoError(t, err)
					require.Equal(t, []referral.ID{sent.ID}, listIDs(listed), "only the sent referral is listed")
					feed, err := e.engine.Feed(e.ctx, o.actor, 0, 0)
					require.NoError(t, err)
					for _, ev := range feed {
						require.Equal(t, sent.ID, ev.Referral, "the feed carries only the sent referral's events")
					}
				})
			}

			t.Run("nothing was written by them", func(t *testing.T) {
				for _, r := range unsent {
					got, err := e.engine.Get(e.ctx, e.senderA, r.ID)
					require.NoError(t, err)
					require.Equal(t, r.Version, got.Version)
				}
			})
			t.Run("sender, admin and system see them", func(t *testing.T) {
				for _, a := range []referral.Actor{e.senderA, admin, system} {
					for _, r := range unsent {
						_, err := e.engine.Get(e.ctx, a, r.ID)
						require.NoError(t, err)
					}
				}
				_, err := e.engine.AddNote(e.ctx, admin, draft.ID, "Looks fine")
				require.ErrorIs(t, err, referral.ErrForbidden, "an admin sees but runs no commands")
				noted, err := e.engine.AddNote(e.ctx, e.senderA, draft.ID, "Check the address first")
				require.NoError(t, err)
				require.Equal(t, referral.StatusDraft, noted.Status)
			})
			t.Run("once sent, the receiver sees it", func(t *testing.T) {
				sentDraft, err := e.engine.Send(e.ctx, e.senderA, draft.ID)
				require.NoError(t, err)
				for _, a := range []referral.Actor{e.receiverA, e.thirdA, delegate} {
					got, err := e.engine.Get(e.ctx, a, draft.ID)
					require.NoError(t, err)
					require.Equal(t, sentDraft, got)
				}
			})
		})
	}
}

// TestCreateCitesOnlyThePersonsScreenings: a need may cite only a screening of
// the referral's own person; anything else is ErrInvalid naming the need, on
// every backend, and nothing is stored.
func TestCreateCitesOnlyThePersonsScreenings(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b.open(t), nil)
			other := e.ids.MustNew()
			require.NoError(t, e.store.PutPerson(e.ctx, referral.Person{ID: other, Network: e.network}))
			screen := func(person referral.ID) referral.Screening {
				sc := referral.Screening{
					ID: e.ids.MustNew(), Network: e.network, Person: person, Instrument: "hunger-vital-sign",
					At: e.clock.Now(), Valid: true, PositiveDomains: []referral.Domain{referral.FoodInsecurity},
					Answers: map[string][]string{"88122-7": {"LA28397-0"}},
				}
				require.NoError(t, e.store.PutScreening(e.ctx, sc))
				return sc
			}
			own, theirs := screen(e.person), screen(other)

			for _, tc := range []struct {
				name      string
				screening referral.ID
			}{{"another person's screening", theirs.ID}, {"a screening that does not exist", e.ids.MustNew()}} {
				t.Run(tc.name, func(t *testing.T) {
					req := e.request(true)
					req.Needs = append(req.Needs, referral.Need{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Screening: tc.screening})
					_, err := e.engine.Create(e.ctx, e.senderA, req)
					require.ErrorIs(t, err, referral.ErrInvalid)
					var ve *referral.ValidationError
					require.ErrorAs(t, err, &ve)
					require.Equal(t, "needs[1].screening_id", ve.Field)
					listed, _, err := e.engine.List(e.ctx, e.senderA, lifecycle.ListQuery{})
					require.NoError(t, err)
					require.Empty(t, listed, "nothing is stored")
				})
			}

			req := e.request(true)
			req.Needs[0].Screening = own.ID
			r, err := e.engine.Create(e.ctx, e.senderA, req)
			require.NoError(t, err)
			require.Equal(t, own.ID, r.Needs[0].Screening)
		})
	}
}

func listIDs(rs []referral.Referral) []referral.ID {
	out := make([]referral.ID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
