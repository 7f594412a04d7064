package lifecycle_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// A referral the actor may not see and one that does not exist are refused
// with the same error, word for word but for the id, on every backend. Before,
// a missing one carried the store's message ("sqlite: referral ...") and a
// hidden one the engine's, so the text told an outsider the referral existed.
func TestHiddenReadsAsMissing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b.open(t), nil)
			hidden := e.create(t)
			missing := e.ids.MustNew()
			elsewhere := e.thirdA
			elsewhere.Network = e.ids.MustNew()
			for name, op := range map[string]func(referral.Actor, referral.ID) error{
				"get":     func(a referral.Actor, id referral.ID) error { _, err := e.engine.Get(e.ctx, a, id); return err },
				"history": func(a referral.Actor, id referral.ID) error { _, err := e.engine.History(e.ctx, a, id); return err },
				"accept":  func(a referral.Actor, id referral.ID) error { _, err := e.engine.Accept(e.ctx, a, id, ""); return err },
				"replace": func(a referral.Actor, id referral.ID) error {
					req := e.request(false)
					req.Replaces = id
					_, err := e.engine.Create(e.ctx, a, req)
					return err
				},
			} {
				for _, actor := range []referral.Actor{e.thirdA, elsewhere} {
					seen, gone := op(actor, hidden.ID), op(actor, missing)
					require.ErrorIs(t, seen, referral.ErrNotFound, name)
					require.ErrorIs(t, gone, referral.ErrNotFound, name)
					require.Equal(t, strings.ReplaceAll(gone.Error(), missing.String(), "ID"),
						strings.ReplaceAll(seen.Error(), hidden.ID.String(), "ID"), name)
				}
			}
			_, err := e.engine.Do(e.ctx, e.receiverA, missing, lifecycle.TriggerAccept, lifecycle.Command{})
			require.ErrorIs(t, err, referral.ErrNotFound)
		})
	}
}
