package lifecycle_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// place is where a referral is in the lifecycle: its status and business status.
type place struct {
	status   referral.Status
	business referral.BusinessStatus
}

func placeOf(r referral.Referral) place { return place{r.Status, r.BusinessStatus} }

// Places the reference names.
var (
	draft           = place{status: referral.StatusDraft}
	requested       = place{status: referral.StatusRequested}
	acknowledged    = place{referral.StatusRequested, referral.BusinessAcknowledged}
	accepted        = place{status: referral.StatusAccepted}
	inProgress      = place{status: referral.StatusInProgress}
	onHold          = place{status: referral.StatusOnHold}
	cancelled       = place{status: referral.StatusCancelled}
	waitlistedPlace = place{referral.StatusAccepted, referral.BusinessWaitlisted}
	failedPlace     = place{status: referral.StatusFailed}
	completedPlace  = place{status: referral.StatusCompleted}
	rejectedPlace   = place{status: referral.StatusRejected}
	enteredInError  = place{status: referral.StatusEnteredInError}
	startedStatuses = []referral.Status{referral.StatusAccepted, referral.StatusInProgress, referral.StatusOnHold}
)

// reference is the lifecycle as documented (package doc, README diagram), written
// independently of the stateless configuration: trigger → from → to.
var reference = map[lifecycle.Trigger]map[place]place{
	lifecycle.TriggerSend:        {draft: requested},
	lifecycle.TriggerAcknowledge: {requested: acknowledged},
	lifecycle.TriggerAccept:      {requested: accepted, acknowledged: accepted},
	lifecycle.TriggerDecline:     {requested: rejectedPlace, acknowledged: rejectedPlace},
	lifecycle.TriggerExpire:      {requested: cancelled, acknowledged: cancelled},
	lifecycle.TriggerEscalate:    {requested: requested, acknowledged: acknowledged},
	lifecycle.TriggerCancel:      {draft: cancelled, requested: cancelled, acknowledged: cancelled},
	lifecycle.TriggerResume:      {onHold: inProgress, {referral.StatusOnHold, referral.BusinessCancelRefused}: inProgress},
	lifecycle.TriggerWaitlist:    {requested: waitlistedPlace, acknowledged: waitlistedPlace},
}

func init() {
	add := func(t lifecycle.Trigger, from, to place) {
		if reference[t] == nil {
			reference[t] = map[place]place{}
		}
		reference[t][from] = to
	}
	for _, s := range referral.Statuses() {
		for _, b := range append(referral.BusinessStatuses(), "") {
			if !b.Within(s) {
				continue
			}
			p := place{s, b}
			if s != referral.StatusEnteredInError {
				add(lifecycle.TriggerEnterInError, p, enteredInError)
				add(lifecycle.TriggerNote, p, p)
			}
			pending := b == referral.BusinessCancelRequested
			switch s {
			case referral.StatusAccepted, referral.StatusInProgress:
				add(lifecycle.TriggerComplete, p, completedPlace)
				add(lifecycle.TriggerFail, p, failedPlace)
				if !pending {
					add(lifecycle.TriggerHold, p, onHold)
					add(lifecycle.TriggerSchedule, p, place{s, referral.BusinessScheduled})
				}
			case referral.StatusOnHold:
				add(lifecycle.TriggerFail, p, failedPlace)
			}
			if s == referral.StatusAccepted && !pending {
				add(lifecycle.TriggerStart, p, inProgress)
				if b != referral.BusinessWaitlisted {
					add(lifecycle.TriggerWaitlist, p, waitlistedPlace)
				}
			}
			if b == referral.BusinessScheduled {
				add(lifecycle.TriggerNoShow, p, place{s, referral.BusinessNoShow})
			}
			if slices.Contains(startedStatuses, s) {
				if pending {
					add(lifecycle.TriggerConfirmCancel, p, cancelled)
					add(lifecycle.TriggerRefuseCancel, p, place{s, referral.BusinessCancelRefused})
				} else {
					add(lifecycle.TriggerRequestCancel, p, place{s, referral.BusinessCancelRequested})
				}
			}
		}
	}
	add(lifecycle.TriggerFail, acknowledged, failedPlace)
}

// fuzzCommand is one command a fuzz input can choose: trigger, who, what it carries.
type fuzzCommand struct {
	trigger lifecycle.Trigger
	cmd     lifecycle.Command
}

var fuzzCommands = []fuzzCommand{
	{lifecycle.TriggerSend, lifecycle.Command{}},
	{lifecycle.TriggerAcknowledge, lifecycle.Command{}},
	{lifecycle.TriggerAccept, lifecycle.Command{}},
	{lifecycle.TriggerDecline, lifecycle.Command{Reason: "no-capacity"}},
	{lifecycle.TriggerDecline, lifecycle.Command{}},
	{lifecycle.TriggerStart, lifecycle.Command{}},
	{lifecycle.TriggerHold, lifecycle.Command{}},
	{lifecycle.TriggerResume, lifecycle.Command{}},
	{lifecycle.TriggerComplete, lifecycle.Command{Outcome: &referral.Outcome{Code: "got-help"}}},
	{lifecycle.TriggerComplete, lifecycle.Command{}},
	{lifecycle.TriggerFail, lifecycle.Command{Reason: "no-show"}},
	{lifecycle.TriggerCancel, lifecycle.Command{Reason: "other"}},
	{lifecycle.TriggerExpire, lifecycle.Command{Reason: lifecycle.ReasonExpired}},
	{lifecycle.TriggerEnterInError, lifecycle.Command{}},
	{lifecycle.TriggerNote, lifecycle.Command{Note: "hello"}},
	{lifecycle.TriggerEscalate, lifecycle.Command{}},
	{lifecycle.TriggerAccept, lifecycle.Command{Reason: "no-capacity"}},
	{lifecycle.TriggerStart, lifecycle.Command{Outcome: &referral.Outcome{Code: "got-help"}}},
	{lifecycle.TriggerWaitlist, lifecycle.Command{}},
	{lifecycle.TriggerSchedule, lifecycle.Command{Note: "Tuesday 10:00"}},
	{lifecycle.TriggerNoShow, lifecycle.Command{}},
	{lifecycle.TriggerRequestCancel, lifecycle.Command{Reason: "need-met-elsewhere"}},
	{lifecycle.TriggerRequestCancel, lifecycle.Command{}},
	{lifecycle.TriggerConfirmCancel, lifecycle.Command{}},
	{lifecycle.TriggerRefuseCancel, lifecycle.Command{Note: "already underway"}},
	{lifecycle.TriggerConfirmCancel, lifecycle.Command{Reason: "other"}},
}

// FuzzLifecycle drives one referral with arbitrary sequences of commands from
// arbitrary actors and checks every outcome against the reference table: a
// success moves exactly as documented and bumps the version by one; a refusal
// writes nothing; the history always replays to the stored referral.
func FuzzLifecycle(f *testing.F) {
	f.Add([]byte{0, 2, 5, 6, 7, 8})
	f.Add([]byte{0x10, 0x21, 0x22, 0x23, 0x28})
	f.Add([]byte{0, 1, 3, 4, 13, 14, 11, 12})
	// send, accept (receiver), schedule, no-show, request to cancel (sender),
	// refuse, request again, confirm.
	f.Add([]byte{0, 28, 45, 46, 21, 50, 21, 49})
	// send, acknowledge, waitlist, schedule, start, hold, request to cancel,
	// confirm (bytes are command + 26 × actor: sender, receiver, third, system).
	f.Add([]byte{0, 27, 44, 45, 31, 32, 21, 49})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 64 {
			script = script[:64]
		}
		e := newEnv(t, nil)
		r, err := e.engine.Create(e.ctx, e.senderA, e.request(false))
		require.NoError(t, err)
		system := referral.Actor{Network: e.network, Role: referral.RoleSystem}
		actors := []referral.Actor{e.senderA, e.receiverA, e.thirdA, system}
		for _, b := range script {
			c := fuzzCommands[int(b)%len(fuzzCommands)]
			actor := actors[int(b)/len(fuzzCommands)%len(actors)]
			got, err := e.engine.Do(e.ctx, actor, r.ID, c.trigger, c.cmd)
			to, legal := reference[c.trigger][placeOf(r)]
			if err != nil {
				require.Truef(t, errors.Is(err, referral.ErrInvalidTransition) || errors.Is(err, referral.ErrForbidden) ||
					errors.Is(err, referral.ErrInvalid) || errors.Is(err, referral.ErrNotFound), "unexpected error %v", err)
				if errors.Is(err, referral.ErrInvalidTransition) {
					require.False(t, legal, "%s from %v is documented as legal", c.trigger, placeOf(r))
				}
				after, gerr := e.engine.Get(e.ctx, system, r.ID)
				require.NoError(t, gerr)
				require.Equal(t, r, after, "a refused command writes nothing")
				continue
			}
			require.True(t, legal, "%s from %v succeeded but is not documented", c.trigger, placeOf(r))
			require.Equal(t, to, placeOf(got))
			require.Equal(t, r.Version+1, got.Version)
			r = got
		}
		history, err := e.engine.History(e.ctx, system, r.ID)
		require.NoError(t, err)
		status, version, err := referral.Replay(history)
		require.NoError(t, err)
		require.Equal(t, r.Status, status)
		require.Equal(t, r.Version, version)
	})
}
