package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	lines := regexp.MustCompile(`\n`).Split(out.String(), -1)
	require.Regexp(t, `^Referred María for food-insecurity to ".+" at .+: requested$`, lines[0])
	require.Equal(t, "  Mon 02 Mar 17:00  requested (acknowledged)", lines[1])
	require.Equal(t, "  Tue 03 Mar 15:00  accepted", lines[2])
	require.Equal(t, "  Thu 05 Mar 15:00  in-progress", lines[3])
	require.Equal(t, "  Thu 05 Mar 17:00  completed", lines[4])
	require.Equal(t, "Loop closure: 1 referral, 100% closed, completed 75h0m0s after sending", lines[5])

	// The same program prints the same thing every time.
	var again bytes.Buffer
	require.NoError(t, run(context.Background(), &again))
	require.Equal(t, out.String(), again.String())
}

// TestScreenMatchReferRefuses: the README's code answers a person it cannot
// help with an error a host can branch on, never a panic.
func TestScreenMatchReferRefuses(t *testing.T) {
	ctx := context.Background()
	sample, err := demo.LoadSample()
	require.NoError(t, err)
	store := memory.New()
	defer store.Close()
	require.NoError(t, sample.Load(ctx, store))
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	index, err := matching.New(ctx, sample.Services, matching.Options{Now: clock})
	require.NoError(t, err)
	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock})
	require.NoError(t, err)
	clinic := referral.Actor{Network: sample.Network.ID, Organization: sample.Referrer.ID, User: "care-coordinator", Role: referral.RoleStaff}
	maria := sample.People[0]
	require.NoError(t, store.PutPerson(ctx, maria.Person))
	faraway := maria.Person
	faraway.Location = &referral.Point{Latitude: 61.2181, Longitude: -149.9003} // Anchorage
	faraway.Zip, faraway.County, faraway.State = "99501", "Anchorage", "AK"

	tests := []struct {
		name    string
		person  referral.Person
		answers string
		want    error
	}{
		{"no need found", maria.Person, `{"answers": {"71802-3": "I have a steady place to live", "96778-6": ["None of the above"],
			"88122-7": "Never true", "88123-5": "Never true", "93030-5": "No", "96779-4": "No",
			"95618-5": "Never", "95617-7": "Never", "95616-9": "Never", "95615-1": "Never"}}`, referral.ErrNotFound},
		{"no service near", faraway, string(maria.Answers["ahc-hrsn"]), referral.ErrNotFound},
		{"answers that are not the instrument's", maria.Person, `{"answers": {"88122-7": "Perhaps"}}`, referral.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := screenMatchRefer(ctx, store, index, engine, clinic, tt.person, []byte(tt.answers), now)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
