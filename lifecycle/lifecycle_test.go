package lifecycle_test

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// clock is a settable test clock, safe for concurrent reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a network with a sending, a receiving and an unrelated organization, a
// person who consented to share with the receiver, and an engine over memory.
type env struct {
	ctx                        context.Context
	clock                      *clock
	store                      storage.Store
	engine                     *lifecycle.Engine
	ids                        *referral.IDGenerator
	network                    referral.ID
	sender, receiver, third    referral.ID
	person                     referral.ID
	senderA, receiverA, thirdA referral.Actor
	service                    referral.Service
}

func newEnv(t testing.TB, edit func(*lifecycle.Options)) *env {
	t.Helper()
	return newEnvOn(t, memory.New(), edit)
}

// newEnvOn is newEnv on the given, empty store.
func newEnvOn(t testing.TB, store storage.Store, edit func(*lifecycle.Options)) *env {
	t.Helper()
	c := &clock{now: time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)}
	e := &env{ctx: context.Background(), clock: c, store: store}
	e.ids = referral.NewIDGenerator(c.Now, nil)
	id := e.ids.MustNew
	e.network, e.sender, e.receiver, e.third, e.person = id(), id(), id(), id(), id()
	require.NoError(t, e.store.PutNetwork(e.ctx, referral.Network{ID: e.network, Name: "Example County Network"}))
	for _, o := range []struct {
		id   referral.ID
		name string
	}{{e.sender, "Clinic"}, {e.receiver, "Food Bank"}, {e.third, "Shelter"}} {
		require.NoError(t, e.store.PutOrganization(e.ctx, referral.Organization{ID: o.id, Network: e.network, Name: o.name}))
	}
	require.NoError(t, e.store.PutPerson(e.ctx, referral.Person{ID: e.person, Network: e.network, GivenName: "Pat"}))
	require.NoError(t, e.store.PutConsent(e.ctx, referral.Consent{
		ID: id(), Network: e.network, Person: e.person, Grantee: e.receiver, Scope: referral.ScopeReferral,
		Period: referral.Period{Start: c.Now().Add(-time.Hour)},
	}))
	e.service = referral.Service{
		ID: id(), Network: e.network, Organization: e.receiver, Name: "Pantry", Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity},
		Locations: []referral.Location{{ID: id(), Latitude: 41.9, Longitude: -87.6}},
	}
	require.NoError(t, e.store.PutService(e.ctx, e.service))
	e.senderA = referral.Actor{Network: e.network, Organization: e.sender, User: "dr-lee", Role: referral.RoleStaff}
	e.receiverA = referral.Actor{Network: e.network, Organization: e.receiver, User: "intake", Role: referral.RoleStaff}
	e.thirdA = referral.Actor{Network: e.network, Organization: e.third, User: "case", Role: referral.RoleStaff}
	cfg := lifecycle.Options{Now: c.Now, IDs: e.ids}
	if edit != nil {
		edit(&cfg)
	}
	eng, err := lifecycle.New(e.store, e.store, cfg)
	require.NoError(t, err)
	e.engine = eng
	return e
}

func (e *env) request(send bool) lifecycle.CreateRequest {
	return lifecycle.CreateRequest{
		Person: e.person, Receiver: e.receiver, Service: e.service.ID, Location: e.service.Locations[0].ID,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}}, Send: send,
	}
}

// create makes a sent referral.
func (e *env) create(t testing.TB) referral.Referral {
	t.Helper()
	r, err := e.engine.Create(e.ctx, e.senderA, e.request(true))
	require.NoError(t, err)
	return r
}

// step is one command in a walk.
type step func(e *env, id referral.ID) (referral.Referral, error)

var (
	ack step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Acknowledge(e.ctx, e.receiverA, id)
	}
	accept step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Accept(e.ctx, e.receiverA, id, "")
	}
	start step = func(e *env, id referral.ID) (referral.Referral, error) { return e.engine.Start(e.ctx, e.receiverA, id) }
	hold  step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Hold(e.ctx, e.receiverA, id, "waitlisted", "")
	}
	resume step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Resume(e.ctx, e.receiverA, id)
	}
	decline step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Decline(e.ctx, e.receiverA, id, "no-capacity", "full this month")
	}
	complete step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Complete(e.ctx, e.receiverA, id, referral.Outcome{Code: "got-help"})
	}
	fail step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Fail(e.ctx, e.receiverA, id, "no-show", "")
	}
	cancel step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Cancel(e.ctx, e.senderA, id, "no-longer-needed", "")
	}
	waitlist step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Waitlist(e.ctx, e.receiverA, id, "")
	}
	schedule step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.Schedule(e.ctx, e.receiverA, id, "Tuesday 10:00 at the pantry")
	}
	noShow step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.NoShow(e.ctx, e.receiverA, id, "")
	}
	requestCancel step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.RequestCancel(e.ctx, e.senderA, id, "need-met-elsewhere", "Housed by the county.")
	}
	confirmCancel step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.ConfirmCancel(e.ctx, e.receiverA, id, "")
	}
	refuseCancel step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.RefuseCancel(e.ctx, e.receiverA, id, "The first delivery is already on its way.")
	}
	inError step = func(e *env, id referral.ID) (referral.Referral, error) {
		return e.engine.EnterInError(e.ctx, e.senderA, id, "wrong person")
	}
)

// walk creates a sent referral and applies steps, failing on any error.
func (e *env) walk(t testing.TB, steps ...step) referral.Referral {
	t.Helper()
	r := e.create(t)
	for _, s := range steps {
		var err error
		r, err = s(e, r.ID)
		require.NoError(t, err)
	}
	return r
}

func TestHappyPathClosesTheLoop(t *testing.T) {
	e := newEnv(t, func(c *lifecycle.Options) {
		c.Deadlines = lifecycle.Deadlines{Acknowledge: 24 * time.Hour, Accept: 72 * time.Hour}
	})
	r, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
	require.NoError(t, err)
	require.Equal(t, referral.StatusDraft, r.Status)
	require.Equal(t, referral.Urgent, r.Priority, "priority defaults to the most pressing need")
	require.True(t, r.NextDeadline.IsZero(), "a draft has no deadline")

	e.clock.Advance(time.Minute)
	r, err = e.engine.Send(e.ctx, e.senderA, r.ID)
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, r.Status)
	require.Equal(t, e.clock.Now().Add(24*time.Hour), r.AcknowledgeBy)
	require.Equal(t, r.AcknowledgeBy, r.NextDeadline)

	for _, s := range []struct {
		step step
		want place
	}{{ack, acknowledged}, {accept, accepted}, {schedule, place{referral.StatusAccepted, referral.BusinessScheduled}},
		{start, inProgress}, {hold, onHold}, {resume, inProgress}, {complete, completedPlace}} {
		e.clock.Advance(time.Hour)
		r, err = s.step(e, r.ID)
		require.NoError(t, err)
		require.Equal(t, s.want, placeOf(r))
	}
	require.Equal(t, "got-help", r.Outcome.Code)
	require.EqualValues(t, 9, r.Version)
	require.Equal(t, time.Hour, r.Acknowledged.Sub(r.Sent))
	require.Equal(t, 2*time.Hour, r.Accepted.Sub(r.Sent))
	require.Equal(t, 7*time.Hour, r.Closed.Sub(r.Sent))
	require.True(t, r.NextDeadline.IsZero())

	history, err := e.engine.History(e.ctx, e.senderA, r.ID)
	require.NoError(t, err)
	status, version, err := referral.Replay(history)
	require.NoError(t, err)
	require.Equal(t, r.Status, status)
	require.Equal(t, r.Version, version)
	require.Equal(t, referral.EventCreated, history[0].Type)
	require.Equal(t, referral.EventCompleted, history[len(history)-1].Type)

	stored, err := e.engine.Get(e.ctx, e.receiverA, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, stored)
}

func TestTransitionRules(t *testing.T) {
	scheduled := place{referral.StatusAccepted, referral.BusinessScheduled}
	tests := []struct {
		name    string
		path    []step
		command step
		want    place
		err     error
	}{
		{"accept without acknowledging", nil, accept, accepted, nil},
		{"acknowledge keeps the referral requested", nil, ack, acknowledged, nil},
		{"decline from requested", nil, decline, rejectedPlace, nil},
		{"decline after acknowledging", []step{ack}, decline, rejectedPlace, nil},
		{"fail after acknowledging", []step{ack}, fail, failedPlace, nil},
		{"waitlist accepts", []step{ack}, waitlist, waitlistedPlace, nil},
		{"waitlist an accepted referral", []step{accept, schedule}, waitlist, waitlistedPlace, nil},
		{"schedule from the waiting list", []step{waitlist}, schedule, scheduled, nil},
		{"start from the waiting list", []step{waitlist}, start, inProgress, nil},
		{"reschedule", []step{accept, schedule}, schedule, scheduled, nil},
		{"reschedule after a no-show", []step{accept, schedule, noShow}, schedule, scheduled, nil},
		{"fail after a no-show", []step{accept, schedule, noShow}, fail, failedPlace, nil},
		{"schedule in progress", []step{accept, start}, schedule, place{referral.StatusInProgress, referral.BusinessScheduled}, nil},
		{"no-show in progress", []step{accept, start, schedule}, noShow, place{referral.StatusInProgress, referral.BusinessNoShow}, nil},
		{"start clears the business status", []step{accept, schedule}, start, inProgress, nil},
		{"fail from on-hold", []step{accept, hold}, fail, failedPlace, nil},
		{"complete from accepted", []step{accept}, complete, completedPlace, nil},
		{"cancel a requested referral at once", nil, cancel, cancelled, nil},
		{"request to cancel in progress", []step{accept, start}, requestCancel, place{referral.StatusInProgress, referral.BusinessCancelRequested}, nil},
		{"request to cancel on hold", []step{accept, hold}, requestCancel, place{referral.StatusOnHold, referral.BusinessCancelRequested}, nil},
		{"confirm a cancellation", []step{accept, requestCancel}, confirmCancel, cancelled, nil},
		{"refuse a cancellation", []step{accept, start, requestCancel}, refuseCancel, place{referral.StatusInProgress, referral.BusinessCancelRefused}, nil},
		{"ask again after a refusal", []step{accept, requestCancel, refuseCancel}, requestCancel, place{referral.StatusAccepted, referral.BusinessCancelRequested}, nil},
		{"complete despite a pending request", []step{accept, requestCancel}, complete, completedPlace, nil},
		{"entered in error after completion", []step{accept, complete}, inError, enteredInError, nil},
		{"entered in error from a business status", []step{accept, schedule}, inError, enteredInError, nil},
		{"start before accepting", nil, start, place{}, referral.ErrInvalidTransition},
		{"complete a requested referral", nil, complete, place{}, referral.ErrInvalidTransition},
		{"accept twice", []step{accept}, accept, place{}, referral.ErrInvalidTransition},
		{"acknowledge twice", []step{ack}, ack, place{}, referral.ErrInvalidTransition},
		{"waitlist twice", []step{waitlist}, waitlist, place{}, referral.ErrInvalidTransition},
		{"no-show without an appointment", []step{accept}, noShow, place{}, referral.ErrInvalidTransition},
		{"schedule a requested referral", nil, schedule, place{}, referral.ErrInvalidTransition},
		{"resume without hold", []step{accept, start}, resume, place{}, referral.ErrInvalidTransition},
		{"cancel an accepted referral at once", []step{accept}, cancel, place{}, referral.ErrInvalidTransition},
		{"cancel in progress at once", []step{accept, start}, cancel, place{}, referral.ErrInvalidTransition},
		{"request to cancel a requested referral", nil, requestCancel, place{}, referral.ErrInvalidTransition},
		{"request to cancel twice", []step{accept, requestCancel}, requestCancel, place{}, referral.ErrInvalidTransition},
		{"start while a cancellation is pending", []step{accept, requestCancel}, start, place{}, referral.ErrInvalidTransition},
		{"schedule while a cancellation is pending", []step{accept, requestCancel}, schedule, place{}, referral.ErrInvalidTransition},
		{"hold while a cancellation is pending", []step{accept, start, requestCancel}, hold, place{}, referral.ErrInvalidTransition},
		{"resume while a cancellation is pending", []step{accept, hold, requestCancel}, resume, place{}, referral.ErrInvalidTransition},
		{"confirm with nothing requested", []step{accept}, confirmCancel, place{}, referral.ErrInvalidTransition},
		{"refuse after refusing", []step{accept, requestCancel, refuseCancel}, refuseCancel, place{}, referral.ErrInvalidTransition},
		{"cancel a completed referral", []step{accept, complete}, cancel, place{}, referral.ErrInvalidTransition},
		{"decline after accepting", []step{accept}, decline, place{}, referral.ErrInvalidTransition},
		{"anything after entered in error", []step{inError}, accept, place{}, referral.ErrInvalidTransition},
		{"fail from requested", nil, fail, place{}, referral.ErrInvalidTransition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.walk(t, tc.path...)
			got, err := tc.command(e, r.ID)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				var te *lifecycle.TransitionError
				require.ErrorAs(t, err, &te)
				require.Equal(t, r.Status, te.Status)
				require.Equal(t, r.BusinessStatus, te.Business)
				after, err := e.engine.Get(e.ctx, e.senderA, r.ID)
				require.NoError(t, err)
				require.Equal(t, r, after, "a refused command writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, placeOf(got))
			require.Equal(t, r.Version+1, got.Version)
			require.NoError(t, got.Validate())
		})
	}
}

// TestTwoStepCancellation follows a request to cancel through both answers:
// the reason travels from the request to the cancelled referral, a hold's
// reason survives a refused request, and the events tell the conversation.
func TestTwoStepCancellation(t *testing.T) {
	t.Run("confirmed", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.walk(t, accept, start, hold)
		require.Equal(t, "waitlisted", r.Reason)
		r = e.walk0(t, r.ID, requestCancel)
		require.Equal(t, referral.BusinessCancelRequested, r.BusinessStatus)
		require.Equal(t, "need-met-elsewhere", r.CancelReason)
		require.Equal(t, "waitlisted", r.Reason, "the hold's reason stands while the receiver decides")
		r = e.walk0(t, r.ID, confirmCancel)
		require.Equal(t, cancelled, placeOf(r))
		require.Equal(t, "need-met-elsewhere", r.Reason)
		require.Empty(t, r.CancelReason)
		require.False(t, r.Closed.IsZero())
		history, err := e.engine.History(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		last := history[len(history)-2:]
		require.Equal(t, referral.EventCancelRequested, last[0].Type)
		require.Equal(t, e.senderA, last[0].Actor)
		require.Equal(t, "Housed by the county.", last[0].Note)
		require.Equal(t, referral.EventCancelled, last[1].Type)
		require.Equal(t, e.receiverA, last[1].Actor)
		require.Equal(t, "need-met-elsewhere", last[1].Reason)
	})
	t.Run("refused", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.walk(t, accept, start, hold, requestCancel, refuseCancel)
		require.Equal(t, place{referral.StatusOnHold, referral.BusinessCancelRefused}, placeOf(r))
		require.Equal(t, "waitlisted", r.Reason)
		require.Empty(t, r.CancelReason)
		r = e.walk0(t, r.ID, resume)
		require.Equal(t, inProgress, placeOf(r))
	})
	t.Run("guards", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.walk(t, accept)
		_, err := e.engine.RequestCancel(e.ctx, e.receiverA, r.ID, "other", "")
		require.ErrorIs(t, err, referral.ErrForbidden, "the receiver answers, it does not ask")
		_, err = e.engine.RequestCancel(e.ctx, e.senderA, r.ID, "", "")
		require.ErrorIs(t, err, referral.ErrInvalid, "a request gives a reason")
		_, err = e.engine.RequestCancel(e.ctx, e.senderA, r.ID, "bored", "")
		require.ErrorIs(t, err, referral.ErrInvalid, "from the cancel list")
		r = e.walk0(t, r.ID, requestCancel)
		_, err = e.engine.ConfirmCancel(e.ctx, e.senderA, r.ID, "")
		require.ErrorIs(t, err, referral.ErrForbidden, "the sender does not answer its own request")
		_, err = e.engine.Do(e.ctx, e.receiverA, r.ID, lifecycle.TriggerConfirmCancel, lifecycle.Command{Reason: "other"})
		require.ErrorIs(t, err, referral.ErrInvalid, "the request's reason is the one recorded")
		delegate := referral.Actor{Network: e.network, Role: referral.RoleDelegate, Person: e.person}
		r2 := e.walk(t, accept)
		got, err := e.engine.RequestCancel(e.ctx, delegate, r2.ID, "client-declined", "")
		require.NoError(t, err, "the person's delegate may ask too")
		require.Equal(t, referral.BusinessCancelRequested, got.BusinessStatus)
	})
}

// walk0 applies steps to an existing referral.
func (e *env) walk0(t testing.TB, id referral.ID, steps ...step) referral.Referral {
	t.Helper()
	var r referral.Referral
	for _, s := range steps {
		var err error
		r, err = s(e, id)
		require.NoError(t, err)
	}
	return r
}

func TestGuards(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *env, id referral.ID) error
		err  error
	}{
		{"sender may not accept", func(e *env, id referral.ID) error {
			_, err := e.engine.Accept(e.ctx, e.senderA, id, "")
			return err
		}, referral.ErrForbidden},
		{"receiver may not cancel", func(e *env, id referral.ID) error {
			_, err := e.engine.Cancel(e.ctx, e.receiverA, id, "other", "")
			return err
		}, referral.ErrForbidden},
		{"unrelated organization cannot see it", func(e *env, id referral.ID) error {
			_, err := e.engine.Accept(e.ctx, e.thirdA, id, "")
			return err
		}, referral.ErrNotFound},
		{"staff may not expire", func(e *env, id referral.ID) error {
			_, err := e.engine.Expire(e.ctx, e.senderA, id)
			return err
		}, referral.ErrForbidden},
		{"decline needs a reason", func(e *env, id referral.ID) error {
			_, err := e.engine.Decline(e.ctx, e.receiverA, id, "", "")
			return err
		}, referral.ErrInvalid},
		{"decline reason must be on the list", func(e *env, id referral.ID) error {
			_, err := e.engine.Decline(e.ctx, e.receiverA, id, "do-not-like", "")
			return err
		}, referral.ErrInvalid},
		{"note needs text", func(e *env, id referral.ID) error {
			_, err := e.engine.AddNote(e.ctx, e.senderA, id, "")
			return err
		}, referral.ErrInvalid},
		{"note with control characters", func(e *env, id referral.ID) error {
			_, err := e.engine.AddNote(e.ctx, e.senderA, id, "bell\a")
			return err
		}, referral.ErrInvalid},
		{"other network sees nothing", func(e *env, id referral.ID) error {
			a := e.receiverA
			a.Network = e.ids.MustNew()
			_, err := e.engine.Acknowledge(e.ctx, a, id)
			return err
		}, referral.ErrNotFound},
		{"reason on a command that takes none", func(e *env, id referral.ID) error {
			_, err := e.engine.Do(e.ctx, e.receiverA, id, lifecycle.TriggerAccept, lifecycle.Command{Reason: "no-capacity"})
			return err
		}, referral.ErrInvalid},
		{"outcome on a command other than complete", func(e *env, id referral.ID) error {
			_, err := e.engine.Do(e.ctx, e.receiverA, id, lifecycle.TriggerAccept, lifecycle.Command{Outcome: &referral.Outcome{Code: "got-help"}})
			return err
		}, referral.ErrInvalid},
		{"expire with another reason", func(e *env, id referral.ID) error {
			system := referral.Actor{Network: e.network, Role: referral.RoleSystem}
			_, err := e.engine.Do(e.ctx, system, id, lifecycle.TriggerExpire, lifecycle.Command{Reason: "no-capacity"})
			return err
		}, referral.ErrInvalid},
		{"unknown trigger", func(e *env, id referral.ID) error {
			_, err := e.engine.Do(e.ctx, e.receiverA, id, "teleport", lifecycle.Command{})
			return err
		}, referral.ErrInvalid},
		{"invalid actor", func(e *env, id referral.ID) error {
			_, err := e.engine.Acknowledge(e.ctx, referral.Actor{Network: e.network, Role: referral.RoleStaff}, id)
			return err
		}, referral.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.create(t)
			require.ErrorIs(t, tc.run(e, r.ID), tc.err)
			after, err := e.engine.Get(e.ctx, e.senderA, r.ID)
			require.NoError(t, err)
			require.Equal(t, r, after, "a refused command writes nothing")
		})
	}
}

func TestCompleteNeedsAKnownOutcome(t *testing.T) {
	e := newEnv(t, func(c *lifecycle.Options) {
		c.Codes = lifecycle.DefaultCodes()
		c.Codes.Outcome = append(c.Codes.Outcome, "enrolled-in-snap")
	})
	r := e.walk(t, accept)
	_, err := e.engine.Complete(e.ctx, e.receiverA, r.ID, referral.Outcome{Code: "made-up"})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = e.engine.Do(e.ctx, e.receiverA, r.ID, lifecycle.TriggerComplete, lifecycle.Command{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	done, err := e.engine.Complete(e.ctx, e.receiverA, r.ID, referral.Outcome{Code: "enrolled-in-snap", Note: "approved"})
	require.NoError(t, err)
	require.Equal(t, "enrolled-in-snap", done.Outcome.Code)
}

func TestConsent(t *testing.T) {
	t.Run("no consent for the receiver", func(t *testing.T) {
		e := newEnv(t, nil)
		req := e.request(true)
		req.Receiver, req.Service, req.Location = e.third, referral.NilID, referral.NilID
		_, err := e.engine.Create(e.ctx, e.senderA, req)
		require.ErrorIs(t, err, referral.ErrNoConsent)

		req.Send = false
		draft, err := e.engine.Create(e.ctx, e.senderA, req)
		require.NoError(t, err, "a draft needs no consent")
		_, err = e.engine.Send(e.ctx, e.senderA, draft.ID)
		require.ErrorIs(t, err, referral.ErrNoConsent)
	})
	t.Run("revoked consent", func(t *testing.T) {
		e := newEnv(t, nil)
		consents, err := e.store.ListConsents(e.ctx, e.network, e.person)
		require.NoError(t, err)
		c := consents[0]
		c.Revoked = e.clock.Now()
		require.NoError(t, e.store.PutConsent(e.ctx, c))
		_, err = e.engine.Create(e.ctx, e.senderA, e.request(true))
		require.ErrorIs(t, err, referral.ErrNoConsent)
	})
	t.Run("implied by host policy", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.ImpliedConsent = true })
		req := e.request(true)
		req.Receiver, req.Service, req.Location = e.third, referral.NilID, referral.NilID
		r, err := e.engine.Create(e.ctx, e.senderA, req)
		require.NoError(t, err)
		require.Equal(t, referral.StatusRequested, r.Status)
	})
}

func TestVisibility(t *testing.T) {
	e := newEnv(t, nil)
	draft, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
	require.NoError(t, err)
	_, err = e.engine.Get(e.ctx, e.receiverA, draft.ID)
	require.ErrorIs(t, err, referral.ErrNotFound, "receivers do not see drafts")
	sent, err := e.engine.Send(e.ctx, e.senderA, draft.ID)
	require.NoError(t, err)
	_, err = e.engine.Get(e.ctx, e.receiverA, sent.ID)
	require.NoError(t, err)

	_, err = e.engine.Get(e.ctx, e.thirdA, sent.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = e.engine.History(e.ctx, e.thirdA, sent.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	require.NoError(t, e.store.PutConsent(e.ctx, referral.Consent{
		ID: e.ids.MustNew(), Network: e.network, Person: e.person, Grantee: e.third, Scope: referral.ScopeView,
	}))
	_, err = e.engine.Get(e.ctx, e.thirdA, sent.ID)
	require.NoError(t, err, "a view consent lets a care coordinator see the referral")
	_, err = e.engine.Accept(e.ctx, e.thirdA, sent.ID, "")
	require.ErrorIs(t, err, referral.ErrForbidden, "seeing is not acting")

	delegate := referral.Actor{Network: e.network, Role: referral.RoleDelegate, Person: e.person, User: "guardian"}
	list, _, err := e.engine.List(e.ctx, delegate, lifecycle.ListQuery{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	cancelled, err := e.engine.Cancel(e.ctx, delegate, sent.ID, "client-declined", "")
	require.NoError(t, err)
	require.Equal(t, referral.StatusCancelled, cancelled.Status)

	other := referral.Actor{Network: e.network, Role: referral.RoleDelegate, Person: e.ids.MustNew()}
	_, err = e.engine.Get(e.ctx, other, sent.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t, nil)
	req := e.request(true)
	req.IdempotencyKey = "order-123"
	first, created, err := e.engine.CreateOnce(e.ctx, e.senderA, req)
	require.NoError(t, err)
	require.True(t, created)
	e.clock.Advance(time.Second)
	again, created, err := e.engine.CreateOnce(e.ctx, e.senderA, req)
	require.NoError(t, err)
	require.False(t, created, "a replay is told apart")
	require.Equal(t, first, again)
	replayed, err := e.engine.Create(e.ctx, e.senderA, req)
	require.NoError(t, err)
	require.Equal(t, first, replayed)
	events, err := e.engine.History(e.ctx, e.senderA, first.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)

	req.Needs = []referral.Need{{Domain: referral.HousingInstability, Urgency: referral.Routine}}
	_, err = e.engine.Create(e.ctx, e.senderA, req)
	require.ErrorIs(t, err, referral.ErrConflict, "the same key for a different referral")
}

// plainStore hides a store's optional interfaces (lifecycle.PersonFinder,
// lifecycle.DirectoryFinder), so the engine takes the path any store has.
type plainStore struct{ storage.Store }

// The memory store answers Create's checks without copying records out.
var (
	_ lifecycle.PersonFinder    = (*memory.Store)(nil)
	_ lifecycle.DirectoryFinder = (*memory.Store)(nil)
)

// TestCreateChecksReferences refuses a referral naming records that do not
// exist or do not belong together, with the same error whether the store
// has the finders or only the getters.
func TestCreateChecksReferences(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *env, r *lifecycle.CreateRequest)
		err  error
	}{
		{"unknown person", func(e *env, r *lifecycle.CreateRequest) { r.Person = e.ids.MustNew() }, referral.ErrNotFound},
		{"unknown receiver", func(e *env, r *lifecycle.CreateRequest) { r.Receiver = e.ids.MustNew() }, referral.ErrNotFound},
		{"unknown service", func(e *env, r *lifecycle.CreateRequest) { r.Service = e.ids.MustNew() }, referral.ErrNotFound},
		{"service of another organization", func(e *env, r *lifecycle.CreateRequest) { r.Receiver = e.third }, referral.ErrInvalid},
		{"location of another service", func(e *env, r *lifecycle.CreateRequest) { r.Location = e.ids.MustNew() }, referral.ErrInvalid},
		{"location without a service", func(e *env, r *lifecycle.CreateRequest) { r.Service = referral.NilID }, referral.ErrInvalid},
		{"no needs", func(e *env, r *lifecycle.CreateRequest) { r.Needs = nil }, referral.ErrInvalid},
		{"unknown domain", func(e *env, r *lifecycle.CreateRequest) { r.Needs[0].Domain = "unknown" }, referral.ErrInvalid},
		{"bad priority", func(e *env, r *lifecycle.CreateRequest) { r.Priority = "asap" }, referral.ErrInvalid},
		{"replaces an unknown referral", func(e *env, r *lifecycle.CreateRequest) { r.Replaces = e.ids.MustNew() }, referral.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var messages []string
			for _, store := range []storage.Store{memory.New(), plainStore{memory.New()}} {
				e := newEnvOn(t, store, nil)
				req := e.request(true)
				tc.edit(e, &req)
				_, err := e.engine.Create(e.ctx, e.senderA, req)
				require.ErrorIs(t, err, tc.err)
				messages = append(messages, err.Error())
				list, _, err := e.engine.List(e.ctx, e.senderA, lifecycle.ListQuery{})
				require.NoError(t, err)
				require.Empty(t, list)
			}
			// The ids differ between the two stores' environments; the rest
			// of the message does not.
			require.Equal(t, idPattern.ReplaceAllString(messages[0], "ID"), idPattern.ReplaceAllString(messages[1], "ID"))
		})
	}
}

// idPattern matches a referral id in a message.
var idPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestRedirectAfterDecline(t *testing.T) {
	e := newEnv(t, nil)
	declined := e.walk(t, decline)
	require.Equal(t, "no-capacity", declined.Reason)
	req := e.request(false)
	req.Replaces = declined.ID
	next, err := e.engine.Create(e.ctx, e.senderA, req)
	require.NoError(t, err)
	require.Equal(t, declined.ID, next.Replaces)
}

func TestNotesAreTwoWay(t *testing.T) {
	e := newEnv(t, nil)
	r := e.create(t)
	_, err := e.engine.AddNote(e.ctx, e.receiverA, r.ID, "Can the client come Tuesday?")
	require.NoError(t, err)
	after, err := e.engine.AddNote(e.ctx, e.senderA, r.ID, "Yes, after 2pm.")
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, after.Status)
	history, err := e.engine.History(e.ctx, e.receiverA, r.ID)
	require.NoError(t, err)
	require.Len(t, history, 3)
	require.Equal(t, referral.EventNote, history[1].Type)
	require.Equal(t, e.receiver, history[1].Actor.Organization)
	require.Equal(t, "Yes, after 2pm.", history[2].Note)
}

func TestSweep(t *testing.T) {
	deadlines := lifecycle.Deadlines{Acknowledge: 24 * time.Hour, Accept: 72 * time.Hour, ExpireAfter: 48 * time.Hour}
	t.Run("escalate then expire", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		r := e.create(t)
		quiet := e.create(t)
		_, err := e.engine.Acknowledge(e.ctx, e.receiverA, quiet.ID)
		require.NoError(t, err)

		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(23*time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{}, res)

		e.clock.Advance(25 * time.Hour)
		res, err = e.engine.Sweep(e.ctx, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1}, res, "only the unacknowledged referral is overdue")
		got, err := e.engine.Get(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusRequested, got.Status)
		require.Equal(t, e.clock.Now(), got.Escalated)
		require.Equal(t, r.AcknowledgeBy.Add(48*time.Hour), got.NextDeadline)

		res, err = e.engine.Sweep(e.ctx, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{}, res, "escalation happens once")

		e.clock.Advance(48 * time.Hour) // 73h: quiet missed its accept deadline, r its expiry
		res, err = e.engine.Sweep(e.ctx, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1, Expired: 1}, res)
		got, err = e.engine.Get(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusCancelled, got.Status)
		require.Equal(t, lifecycle.ReasonExpired, got.Reason)
		require.True(t, got.NextDeadline.IsZero())
		history, err := e.engine.History(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.Equal(t, []referral.EventType{referral.EventCreated, referral.EventEscalated, referral.EventExpired},
			[]referral.EventType{history[0].Type, history[1].Type, history[2].Type})
		require.Equal(t, referral.RoleSystem, history[2].Actor.Role)
	})
	t.Run("catching up escalates and expires in one sweep", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		r := e.create(t)
		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(30*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1, Expired: 1}, res)
		got, err := e.engine.Get(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusCancelled, got.Status)
	})
	t.Run("zero grace expires at the deadline", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = lifecycle.Deadlines{Acknowledge: time.Hour} })
		e.create(t)
		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Expired: 1}, res)
	})
	t.Run("negative grace only escalates", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = lifecycle.Deadlines{Acknowledge: time.Hour, ExpireAfter: -1} })
		r := e.create(t)
		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(365*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1}, res)
		got, err := e.engine.Get(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.True(t, got.NextDeadline.IsZero())
	})
	t.Run("acknowledging after an escalation re-arms the accept deadline", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		r := e.create(t)
		e.clock.Advance(25 * time.Hour)
		res, err := e.engine.Sweep(e.ctx, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1}, res)
		got, err := e.engine.Acknowledge(e.ctx, e.receiverA, r.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusRequested, got.Status, "acknowledging keeps the status")
		require.True(t, got.Escalated.IsZero(), "the escalated deadline is met")
		require.Equal(t, r.AcceptBy, got.NextDeadline)
		require.Equal(t, e.clock.Now(), got.Acknowledged)
		e.clock.Advance(48 * time.Hour) // 73h: the accept deadline is missed
		res, err = e.engine.Sweep(e.ctx, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{Escalated: 1}, res, "the accept deadline escalates before expiring")
	})
	t.Run("waitlisting meets both deadlines", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		r := e.walk(t, waitlist)
		require.Equal(t, r.Accepted, r.Acknowledged, "taking the person on acknowledges too")
		require.True(t, r.NextDeadline.IsZero())
		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(365*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{}, res)
	})
	t.Run("accepted referrals are not swept", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		e.walk(t, accept)
		res, err := e.engine.Sweep(e.ctx, e.clock.Now().Add(365*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, lifecycle.SweepResult{}, res)
	})
}

func TestFeedFollowsVisibleEvents(t *testing.T) {
	e := newEnv(t, nil)
	r := e.walk(t, ack, accept)
	_, err := e.engine.Create(e.ctx, e.senderA, e.request(false)) // a draft the receiver must not see
	require.NoError(t, err)

	var seen []referral.Event
	var cursor int64
	for {
		page, err := e.engine.Feed(e.ctx, e.receiverA, cursor, 2)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		cursor = page[len(page)-1].Position
	}
	require.Len(t, seen, 3)
	for i, ev := range seen {
		require.Equal(t, r.ID, ev.Referral)
		require.EqualValues(t, i+1, ev.Sequence)
	}
	all, err := e.engine.Feed(e.ctx, e.senderA, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 4)
	_, err = e.engine.Feed(e.ctx, e.senderA, -1, 0)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	from := e.clock.Now()
	// Four referrals: two completed (after 2h and 10h), one declined, one open.
	for _, hours := range []int{2, 10} {
		r := e.create(t)
		e.clock.Advance(time.Hour)
		_, err := e.engine.Acknowledge(e.ctx, e.receiverA, r.ID)
		require.NoError(t, err)
		_, err = e.engine.Accept(e.ctx, e.receiverA, r.ID, "")
		require.NoError(t, err)
		e.clock.Advance(time.Duration(hours-1) * time.Hour)
		_, err = e.engine.Complete(e.ctx, e.receiverA, r.ID, referral.Outcome{Code: "got-help"})
		require.NoError(t, err)
	}
	e.walk(t, decline)
	e.create(t)

	admin := referral.Actor{Network: e.network, Organization: e.sender, Role: referral.RoleAdmin}
	rep, err := e.engine.Metrics(e.ctx, admin, from, e.clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, rep.Total)
	require.Equal(t, map[referral.Status]int{referral.StatusCompleted: 2, referral.StatusRejected: 1, referral.StatusRequested: 1}, rep.ByStatus)
	require.Equal(t, map[string]int{"no-capacity": 1}, rep.ByReason[referral.StatusRejected])
	require.Equal(t, map[string]int{"got-help": 2}, rep.Outcomes)
	require.InDelta(t, 0.5, rep.ClosureRate, 1e-9)
	require.Equal(t, lifecycle.Durations{Count: 2, Median: time.Hour, P90: time.Hour}, rep.TimeToAcknowledge)
	require.Equal(t, lifecycle.Durations{Count: 2, Median: 2 * time.Hour, P90: 10 * time.Hour}, rep.TimeToComplete)

	third, err := e.engine.Metrics(e.ctx, e.thirdA, from, e.clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, third.Total, "metrics only count what the actor may see")
	_, err = e.engine.Metrics(e.ctx, admin, from, from)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestGraph(t *testing.T) {
	dot := lifecycle.Graph()
	require.Contains(t, dot, "digraph")
	for _, s := range referral.Statuses() {
		require.Contains(t, dot, string(s))
	}
	// Business statuses are drawn as substates, and the two-step cancellation
	// as transitions out of them.
	for _, want := range []string{`"requested / acknowledged"`, `subgraph cluster_accepted`, `"accepted / waitlisted"`,
		`"in-progress / no-show"`, `"on-hold / cancel-requested" -> cancelled`, "confirm-cancel [byReceiver]", "refuse-cancel [byReceiver]"} {
		require.Contains(t, dot, want)
	}
	require.NotContains(t, dot, "received")
}

func TestNewRejectsBadOptions(t *testing.T) {
	codes := lifecycle.DefaultCodes()
	codes.Decline = append(codes.Decline, "Not Eligible")
	store := memory.New()
	tests := []struct {
		name      string
		store     lifecycle.Store
		directory lifecycle.Directory
		opts      lifecycle.Options
	}{
		{"no store", nil, store, lifecycle.Options{}},
		{"no directory", store, nil, lifecycle.Options{}},
		{"a code that is not kebab-case", store, store, lifecycle.Options{Codes: codes}},
		{"a negative deadline", store, store, lifecycle.Options{Deadlines: lifecycle.Deadlines{Accept: -time.Hour}}},
		{"a negative poll interval", store, store, lifecycle.Options{PollInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lifecycle.New(tt.store, tt.directory, tt.opts)
			require.ErrorIs(t, err, referral.ErrInvalid)
		})
	}
}

func TestIfVersion(t *testing.T) {
	tests := []struct {
		name    string
		version func(r referral.Referral) int64
		wantErr error
	}{
		{"unset applies", func(referral.Referral) int64 { return 0 }, nil},
		{"current applies", func(r referral.Referral) int64 { return r.Version }, nil},
		{"stale is a conflict", func(r referral.Referral) int64 { return r.Version - 1 }, referral.ErrConflict},
		{"future is a conflict", func(r referral.Referral) int64 { return r.Version + 1 }, referral.ErrConflict},
		{"negative is invalid", func(referral.Referral) int64 { return -1 }, referral.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r, err := e.engine.Acknowledge(e.ctx, e.receiverA, e.create(t).ID)
			require.NoError(t, err)
			got, err := e.engine.Do(e.ctx, e.receiverA, r.ID, lifecycle.TriggerAccept,
				lifecycle.Command{IfVersion: tt.version(r)})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				stored, err := e.engine.Get(e.ctx, e.receiverA, r.ID)
				require.NoError(t, err)
				require.Equal(t, r.Version, stored.Version, "a refused command writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, r.Version+1, got.Version)
		})
	}
}
