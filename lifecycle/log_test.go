package lifecycle_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
)

// TestLogsCarryNoPersonalData checks the debug records a host can switch on name
// ids and statuses only, never notes, users or people.
func TestLogsCarryNoPersonalData(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *lifecycle.Options) { c.Logger = logger })
	req := e.request(true)
	req.Note = "Pat lives at 12 Elm St and is afraid of her partner."
	r, err := e.engine.Create(e.ctx, e.senderA, req)
	require.NoError(t, err)
	_, err = e.engine.Decline(e.ctx, e.receiverA, r.ID, "no-capacity", "Call Pat on 555-0100.")
	require.NoError(t, err)

	out := buf.String()
	require.Contains(t, out, r.ID.String())
	require.Contains(t, out, `"to":"rejected"`)
	for _, secret := range []string{"Pat", "Elm", "555-0100", e.person.String(), e.senderA.User, e.receiverA.User} {
		require.NotContains(t, out, secret)
	}
}

func TestEngineCodesAreACopy(t *testing.T) {
	e := newEnv(t, nil)
	codes := e.engine.Codes()
	codes.Decline[0] = "changed"
	require.Equal(t, lifecycle.DefaultCodes().Decline[0], e.engine.Codes().Decline[0])
}
