package fhir_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

// TestCapacity: a service's published capacity answers the IG's capacity
// inquiry (capacity page, STU3 ballot) as its capacity statuses.
func TestCapacity(t *testing.T) {
	tests := []struct {
		name     string
		capacity *referral.Capacity
		status   referral.ServiceStatus
		code     string
		text     string
		notes    string
	}{
		{"open places", &referral.Capacity{Available: 3}, referral.ServiceActive, fhir.CapacityAvailable, "Has Capacity", "3 places open."},
		{"full, with a waiting list", &referral.Capacity{Waitlist: 4}, referral.ServiceActive, fhir.CapacityWaitlist, "No Capacity - Has Waitlist", "Room for 4 more on the waiting list."},
		{"full", &referral.Capacity{}, referral.ServiceActive, fhir.CapacityNone, "No Capacity", ""},
		{"temporarily closed", &referral.Capacity{Available: 3}, referral.ServiceTemporarilyClosed, fhir.CapacityNone, "No Capacity", "The service is temporarily closed."},
		{"not tracked", nil, referral.ServiceActive, "", "Capacity not published", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork()
			id := n.service(tc.capacity)
			svc, err := n.store.GetService(context.Background(), n.clinic.Network, id)
			require.NoError(t, err)
			svc.Status = tc.status
			require.NoError(t, n.store.PutService(context.Background(), svc))
			b, err := n.x.Capacity(context.Background(), n.clinic, id)
			require.NoError(t, err)
			require.NoError(t, b.Validate())
			data, err := json.Marshal(b)
			require.NoError(t, err)
			requireConformant(t, data)
			require.Equal(t, 1, *b.Total)
			h := b.HealthcareServices()[0]
			require.Equal(t, "match", b.Entry[0].Search.Mode)
			require.Equal(t, "include", b.Entry[1].Search.Mode)
			status := h.Extension[0].Extension[0].ValueCodeableConcept
			require.Equal(t, tc.text, status.Text)
			if tc.code != "" {
				require.Equal(t, fhir.Coding{System: fhir.SystemSDOHCC, Code: tc.code, Display: tc.text}, status.Coding[0])
			} else {
				require.Empty(t, status.Coding, "no code of the IG's fits capacity that is not published")
			}
			if tc.notes != "" {
				require.Equal(t, tc.notes, h.Extension[0].Extension[1].ValueString)
			} else {
				require.Len(t, h.Extension[0].Extension, 1)
			}
			require.Equal(t, "Organization/"+n.foodBank.Organization.String(), h.ProvidedBy.Reference)
			require.Equal(t, "sdoh", h.Category[0].Coding[0].Code)
			require.Equal(t, "food-insecurity", h.Category[0].Coding[1].Code)
			require.NotContains(t, string(data), n.person.String(), "no person data")
			require.NotContains(t, string(data), "Diaz")
		})
	}
}

func TestCapacityErrors(t *testing.T) {
	n := newNetwork()
	active := n.service(nil)
	defunct := n.service(nil)
	svc, err := n.store.GetService(context.Background(), n.clinic.Network, defunct)
	require.NoError(t, err)
	svc.Status = referral.ServiceDefunct
	require.NoError(t, n.store.PutService(context.Background(), svc))
	many := make([]referral.ID, 101)
	for i := range many {
		many[i] = active
	}
	tests := []struct {
		name     string
		actor    referral.Actor
		services []referral.ID
		err      error
		field    string
	}{
		{"no service", n.clinic, nil, referral.ErrInvalid, "services"},
		{"over 100", n.clinic, many, referral.ErrInvalid, "services"},
		{"twice", n.clinic, []referral.ID{active, active}, referral.ErrInvalid, "services[1]"},
		{"defunct", n.clinic, []referral.ID{defunct}, referral.ErrInvalid, "services[0].status"},
		{"unknown", n.clinic, []referral.ID{n.ids.MustNew()}, referral.ErrNotFound, ""},
		{"another network", referral.Actor{Network: n.ids.MustNew(), Organization: n.clinic.Organization, Role: referral.RoleStaff}, []referral.ID{active}, referral.ErrNotFound, ""},
		{"no actor", referral.Actor{}, []referral.ID{active}, referral.ErrInvalid, "network_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.x.Capacity(context.Background(), tc.actor, tc.services...)
			require.ErrorIs(t, err, tc.err)
			if tc.field != "" {
				var ve *referral.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tc.field, ve.Field)
			}
		})
	}
}
