package lifecycle_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// hostDirectory is a host's own service directory (a 211's, say): services are
// served from it, while organizations, which consents and actors name, stay
// in the store.
type hostDirectory struct {
	orgs     lifecycle.Directory
	services map[referral.ID]referral.Service
	reads    int
}

func (d *hostDirectory) GetOrganization(ctx context.Context, network, id referral.ID) (referral.Organization, error) {
	return d.orgs.GetOrganization(ctx, network, id)
}

func (d *hostDirectory) GetService(_ context.Context, network, id referral.ID) (referral.Service, error) {
	d.reads++
	s, ok := d.services[id]
	if !ok || s.Network != network {
		return referral.Service{}, fmt.Errorf("service %s: %w", id, referral.ErrNotFound)
	}
	return s, nil
}

// TestDirectoryElsewhere runs referrals against services the store never
// holds: the engine reads them only through its Directory.
func TestDirectoryElsewhere(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, e.store.DeleteService(e.ctx, e.network, e.service.ID))
	dir := &hostDirectory{orgs: e.store, services: map[referral.ID]referral.Service{e.service.ID: e.service}}
	engine, err := lifecycle.New(e.store, dir, lifecycle.Options{Now: e.clock.Now, IDs: e.ids})
	require.NoError(t, err)

	r, err := engine.Create(e.ctx, e.senderA, e.request(true))
	require.NoError(t, err, "the service is found in the host's directory")
	require.Equal(t, e.service.ID, r.Service)
	require.Equal(t, 1, dir.reads)
	_, err = engine.Accept(e.ctx, e.receiverA, r.ID, "")
	require.NoError(t, err)

	missing := e.request(true)
	missing.Service = e.ids.MustNew()
	_, err = engine.Create(e.ctx, e.senderA, missing)
	require.ErrorIs(t, err, referral.ErrNotFound, "a service the host's directory lacks")
}
