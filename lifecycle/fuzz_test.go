package lifecycle_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// reference is the lifecycle as documented (package doc, README diagram), written
// independently of the stateless configuration: trigger → from → to.
var reference = map[lifecycle.Trigger]map[referral.Status]referral.Status{
	lifecycle.TriggerSend:        {referral.StatusDraft: referral.StatusRequested},
	lifecycle.TriggerAcknowledge: {referral.StatusRequested: referral.StatusReceived},
	lifecycle.TriggerAccept:      {referral.StatusRequested: referral.StatusAccepted, referral.StatusReceived: referral.StatusAccepted},
	lifecycle.TriggerDecline:     {referral.StatusRequested: referral.StatusRejected, referral.StatusReceived: referral.StatusRejected},
	lifecycle.TriggerStart:       {referral.StatusAccepted: referral.StatusInProgress},
	lifecycle.TriggerHold:        {referral.StatusAccepted: referral.StatusOnHold, referral.StatusInProgress: referral.StatusOnHold},
	lifecycle.TriggerResume:      {referral.StatusOnHold: referral.StatusInProgress},
	lifecycle.TriggerComplete:    {referral.StatusAccepted: referral.StatusCompleted, referral.StatusInProgress: referral.StatusCompleted},
	lifecycle.TriggerFail: {
		referral.StatusReceived: referral.StatusFailed, referral.StatusAccepted: referral.StatusFailed,
		referral.StatusInProgress: referral.StatusFailed, referral.StatusOnHold: referral.StatusFailed,
	},
	lifecycle.TriggerExpire:   {referral.StatusRequested: referral.StatusCancelled, referral.StatusReceived: referral.StatusCancelled},
	lifecycle.TriggerEscalate: {referral.StatusRequested: referral.StatusRequested, referral.StatusReceived: referral.StatusReceived},
}

func init() {
	open := map[referral.Status]referral.Status{}
	inError := map[referral.Status]referral.Status{}
	note := map[referral.Status]referral.Status{}
	for _, s := range referral.Statuses() {
		if !s.Terminal() {
			open[s] = referral.StatusCancelled
		}
		if s != referral.StatusEnteredInError {
			inError[s] = referral.StatusEnteredInError
			note[s] = s
		}
	}
	reference[lifecycle.TriggerCancel] = open
	reference[lifecycle.TriggerEnterInError] = inError
	reference[lifecycle.TriggerNote] = note
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
}

// FuzzLifecycle drives one referral with arbitrary sequences of commands from
// arbitrary actors and checks every outcome against the reference table: a
// success moves exactly as documented and bumps the version by one; a refusal
// writes nothing; the history always replays to the stored referral.
func FuzzLifecycle(f *testing.F) {
	f.Add([]byte{0, 2, 5, 6, 7, 8})
	f.Add([]byte{0x10, 0x21, 0x22, 0x23, 0x28})
	f.Add([]byte{0, 1, 3, 4, 13, 14, 11, 12})
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
			to, legal := reference[c.trigger][r.Status]
			if err != nil {
				require.Truef(t, errors.Is(err, referral.ErrInvalidTransition) || errors.Is(err, referral.ErrForbidden) ||
					errors.Is(err, referral.ErrInvalid) || errors.Is(err, referral.ErrNotFound), "unexpected error %v", err)
				if errors.Is(err, referral.ErrInvalidTransition) {
					require.False(t, legal, "%s from %s is documented as legal", c.trigger, r.Status)
				}
				after, gerr := e.engine.Get(e.ctx, system, r.ID)
				require.NoError(t, gerr)
				require.Equal(t, r, after, "a refused command writes nothing")
				continue
			}
			require.True(t, legal, "%s from %s succeeded but is not documented", c.trigger, r.Status)
			require.Equal(t, to, got.Status)
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
