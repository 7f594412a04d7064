package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
)

// TestCommandTable: every lifecycle trigger a person may run has a route,
// named as the trigger, with the event it records for retries; the sweep's
// own (expire, escalate) have none.
func TestCommandTable(t *testing.T) {
	want := []lifecycle.Trigger{
		lifecycle.TriggerSend, lifecycle.TriggerAcknowledge, lifecycle.TriggerAccept, lifecycle.TriggerWaitlist,
		lifecycle.TriggerSchedule, lifecycle.TriggerNoShow, lifecycle.TriggerDecline, lifecycle.TriggerStart,
		lifecycle.TriggerHold, lifecycle.TriggerResume, lifecycle.TriggerComplete, lifecycle.TriggerFail,
		lifecycle.TriggerCancel, lifecycle.TriggerRequestCancel, lifecycle.TriggerConfirmCancel,
		lifecycle.TriggerRefuseCancel, lifecycle.TriggerEnterInError, lifecycle.TriggerNote,
	}
	var got []lifecycle.Trigger
	for _, c := range commandNames {
		require.Equal(t, string(c.trigger), c.name, "a route is named as its trigger")
		require.NotEmpty(t, commandEvents[c.trigger], "%s records no known event", c.name)
		require.NotEmpty(t, c.summary)
		got = append(got, c.trigger)
	}
	require.ElementsMatch(t, want, got)
	require.Len(t, commandEvents, len(commandNames))
	for _, system := range []lifecycle.Trigger{lifecycle.TriggerExpire, lifecycle.TriggerEscalate} {
		require.NotContains(t, got, system)
	}
}
