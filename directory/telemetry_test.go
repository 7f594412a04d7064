package directory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/internal/telemetry/telemetrytest"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/storagetest"
)

// TestTelemetry loads a directory, follows it with an index and keeps
// capacity as a referral of a sentinel person is accepted: the load, the
// syncs and the keeper are traced and counted, and no value of the person,
// a note or a directory record's text is an attribute.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	ctx := context.Background()
	store := memory.New()
	f, r := telemetrytest.StoreFlow(t, store)

	svc := f.NewService(f.Receiver.ID)
	svc.Name, svc.Description, svc.Eligibility = "qzxv pantry", telemetrytest.Note, `zip == "`+telemetrytest.Zip+`"`
	rep, err := directory.Load(ctx, store, f.Network.ID, directory.Records{Services: []referral.Service{svc}},
		directory.LoadOptions{Partial: true, TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)
	require.Len(t, rep.Services.Added, 1)

	ix, err := directory.NewIndex(ctx, store, f.Network.ID, directory.IndexOptions{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)
	require.NoError(t, store.SetCapacity(ctx, f.Network.ID, svc.ID, &referral.Capacity{Available: 2}))
	svc.Name = "qzxv pantry, renamed"
	require.NoError(t, store.PutService(ctx, svc))
	n, err := ix.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	keeper, err := directory.NewCapacityKeeper(store, f.Network.ID, directory.KeeperOptions{TracerProvider: rec.Tracer, MeterProvider: rec.Meter})
	require.NoError(t, err)
	accepted, ev := storagetest.Next(r, referral.StatusAccepted, referral.EventAccepted)
	ev.Note, ev.Actor.User = telemetrytest.Note, telemetrytest.User
	_, err = store.UpdateReferral(ctx, accepted, ev)
	require.NoError(t, err)
	adjusted, err := keeper.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, adjusted)

	load := telemetrytest.SpanAttrs(rec.Span(t, "directory load"))
	require.Equal(t, f.Network.ID.String(), load["refkit.network.id"].AsString())
	require.Equal(t, int64(1), load["refkit.directory.added.service"].AsInt64())
	require.True(t, load["refkit.directory.partial"].AsBool())
	var indexSync bool
	for _, s := range rec.Spans() {
		a := telemetrytest.SpanAttrs(s)
		if s.Name() == "directory sync" && a["refkit.directory.follower"].AsString() == "index" && a["refkit.directory.changes"].AsInt64() == 2 {
			indexSync = true
			require.Equal(t, ix.Position(), a["refkit.directory.position"].AsInt64())
		}
	}
	require.True(t, indexSync, "the index's sync has a span")
	rec.Span(t, "matching update") // the index's matching spans go to the same provider
	keep := telemetrytest.SpanAttrs(rec.Span(t, "directory capacity sync"))
	require.Equal(t, int64(1), keep["refkit.directory.adjustments"].AsInt64())
	require.Equal(t, int64(3), keep["refkit.directory.changes"].AsInt64(), "three referral events read")

	changes := telemetrytest.Points(t, rec.Metric(t, "refkit.directory.sync.changes", "{change}"))
	require.Equal(t, 2.0, telemetrytest.Sum(changes, map[string]string{"refkit.directory.follower": "index"}))
	lag := telemetrytest.Points(t, rec.Metric(t, "refkit.directory.sync.lag", "{change}"))
	require.Equal(t, 1.0, telemetrytest.Sum(lag, map[string]string{"refkit.directory.follower": "index"}), "one sync")
	rec.Metric(t, "refkit.directory.sync.duration", "s")
	require.Equal(t, 1.0, telemetrytest.Sum(telemetrytest.Points(t, rec.Metric(t, "refkit.directory.capacity.adjustments", "{adjustment}")), nil))
	loaded := telemetrytest.Points(t, rec.Metric(t, "refkit.directory.load.records", "{record}"))
	require.Equal(t, 1.0, telemetrytest.Sum(loaded, map[string]string{"refkit.directory.record": "service", "refkit.directory.change": "added"}))

	rec.RequireClean(t, telemetrytest.Sentinels...)
}
