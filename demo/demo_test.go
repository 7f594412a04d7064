package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

func runOn(t *testing.T, store storage.Store) *demo.Report {
	t.Helper()
	report, err := demo.Run(context.Background(), store, demo.Options{})
	require.NoError(t, err)
	return report
}

// TestRunPlaysEveryStory checks that each referral ends as its person's story
// says, that each decline is redirected, and that the loop-closure report
// agrees with the referrals.
func TestRunPlaysEveryStory(t *testing.T) {
	sample, err := demo.LoadSample()
	require.NoError(t, err)
	store := memory.New()
	defer store.Close()
	report := runOn(t, store)

	require.Len(t, report.People, len(sample.People))
	stories := map[[2]string]demo.Story{}
	for _, p := range sample.People {
		for d, s := range p.Story {
			stories[[2]string{p.Person.ID.String(), string(d)}] = s
		}
	}
	byID := map[referral.ID]demo.ReferralReport{}
	for _, rr := range report.Referrals {
		byID[rr.Referral] = rr
	}
	completed, seen := 0, map[demo.Story]bool{}
	for _, rr := range report.Referrals {
		story := stories[[2]string{rr.Person.String(), string(rr.Domain)}]
		if story == "" || !rr.Replaces.IsZero() {
			story = demo.StoryComplete
		}
		seen[story] = true
		switch reason, declined := story.Decline(); {
		case story == demo.StoryComplete:
			require.Equal(t, referral.StatusCompleted, rr.Status, rr.ServiceName)
			require.Equal(t, "got-help", rr.Outcome)
			require.True(t, rr.Closed.After(rr.Sent))
			completed++
		case story == demo.StoryInProgress:
			require.Equal(t, referral.StatusInProgress, rr.Status)
			require.True(t, rr.Closed.IsZero())
		case story == demo.StoryExpire:
			require.Equal(t, referral.StatusCancelled, rr.Status)
			require.Equal(t, "expired", rr.Reason)
		case declined:
			require.Equal(t, referral.StatusRejected, rr.Status)
			require.Equal(t, reason, rr.Reason)
			var redirect *demo.ReferralReport
			for _, r := range report.Referrals {
				if r.Replaces == rr.Referral {
					redirect = &r
				}
			}
			require.NotNil(t, redirect, "a declined need is redirected")
			require.Equal(t, rr.Domain, redirect.Domain)
			require.NotEqual(t, rr.Receiver, redirect.Receiver, "never back to the organization that declined")
		}
		require.GreaterOrEqual(t, rr.Events, 2, "created and sent at least")
		require.Positive(t, rr.Score)
		codes := map[string]bool{}
		for _, reason := range rr.Reasons {
			codes[reason.Code] = true
		}
		require.True(t, codes["covers-need"] && (codes["within-radius"] || codes["serves-area"]),
			"the report says why the service was chosen: %v", rr.Reasons)
		if rr.DistanceM != nil {
			require.LessOrEqual(t, *rr.DistanceM, float64(demo.RadiusM))
		} else {
			require.NotEmpty(t, rr.Area)
		}
	}
	for _, s := range []demo.Story{demo.StoryComplete, demo.StoryInProgress, demo.StoryExpire, "decline:no-capacity"} {
		require.True(t, seen[s], "the sample plays %s", s)
	}
	require.Empty(t, report.Unmet, "the sample directory covers every need the sample screens")

	loop := report.Loop
	require.Equal(t, len(report.Referrals), loop.Total)
	require.Equal(t, completed, loop.ByStatus[referral.StatusCompleted])
	require.InDelta(t, float64(completed)/float64(len(report.Referrals)), loop.ClosureRate, 1e-9)
	require.Equal(t, loop.ByStatus[referral.StatusCancelled], report.Sweep.Expired)
	require.GreaterOrEqual(t, report.Sweep.Escalated, report.Sweep.Expired)
	require.Positive(t, loop.TimeToAcknowledge.Median)
	require.Positive(t, loop.TimeToComplete.Median)
}

// TestRunSameOnEveryStore: the embedded default and the in-memory store tell
// the same story, byte for byte.
func TestRunSameOnEveryStore(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	defer mem.Close()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"), sqlite.Options{})
	require.NoError(t, err)
	defer lite.Close()

	var a, b bytes.Buffer
	require.NoError(t, runOn(t, mem).WriteJSON(&a))
	require.NoError(t, runOn(t, lite).WriteJSON(&b))
	require.JSONEq(t, a.String(), b.String())
}

func TestRunRefuses(t *testing.T) {
	ctx := context.Background()
	used := memory.New()
	defer used.Close()
	runOn(t, used)
	bad, err := demo.LoadSample()
	require.NoError(t, err)
	bad.People[0].Person.Network = referral.NewID()

	tests := []struct {
		name  string
		store storage.Store
		opts  demo.Options
		want  error
	}{
		{"no store", nil, demo.Options{}, referral.ErrInvalid},
		{"negative days", memory.New(), demo.Options{Days: -1}, referral.ErrInvalid},
		{"a store that already played", used, demo.Options{}, referral.ErrConflict},
		{"a person outside the network", memory.New(), demo.Options{Sample: bad}, referral.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demo.Run(ctx, tt.store, tt.opts)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestRunHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := demo.Run(ctx, memory.New(), demo.Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestWriteText(t *testing.T) {
	report := runOn(t, memory.New())
	var b bytes.Buffer
	require.NoError(t, report.WriteText(&b))
	text := b.String()
	for _, p := range report.People {
		require.Contains(t, text, p.Name)
	}
	for _, rr := range report.Referrals {
		require.Contains(t, text, rr.ServiceName)
	}
	require.Contains(t, text, "↳ redirected")
	require.Contains(t, text, "cancelled: expired")
	require.Contains(t, text, "rejected: no-capacity")
	require.Contains(t, text, "[self-harm-risk]")
	require.Regexp(t, `Loop closure: \d+ referrals, \d+ closed with an outcome \(\d+%\)`, text)
	require.Contains(t, text, "deadline sweep: ")
	require.NotContains(t, text, "%!", "no formatting mistakes")
	for _, line := range strings.Split(text, "\n") {
		require.NotContains(t, line, "00000000-0000-0000-0000-000000000000", "no zero ids")
	}
}

func TestDaysShortensThePlay(t *testing.T) {
	report, err := demo.Run(context.Background(), memory.New(), demo.Options{Days: 2})
	require.NoError(t, err)
	require.Equal(t, report.Start.AddDate(0, 0, 2), report.End)
	require.Zero(t, report.Loop.ByStatus[referral.StatusCompleted], "nothing completes within two days")
	require.Zero(t, report.Sweep.Expired, "nothing expires within two days")
	start := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	report, err = demo.Run(context.Background(), memory.New(), demo.Options{Start: start})
	require.NoError(t, err)
	require.Equal(t, start, report.Start)
	require.True(t, report.Referrals[0].Sent.Equal(start))
}

func TestDeadlinesDecideExpiry(t *testing.T) {
	// Receivers accept 20 to 38 hours after a referral is sent; with 12 hours
	// to accept, most miss it and the morning sweep expires them first.
	tight := lifecycle.Deadlines{Accept: 12 * time.Hour, ExpireAfter: time.Hour}
	report, err := demo.Run(context.Background(), memory.New(), demo.Options{Deadlines: tight})
	require.NoError(t, err)
	usual := runOn(t, memory.New())
	require.Greater(t, report.Sweep.Expired, usual.Sweep.Expired)
	require.Less(t, report.Loop.ClosureRate, usual.Loop.ClosureRate)
	require.Equal(t, report.Sweep.Expired, report.Loop.ByReason[referral.StatusCancelled]["expired"])
}

func TestReportJSON(t *testing.T) {
	report := runOn(t, memory.New())
	var b bytes.Buffer
	require.NoError(t, report.WriteJSON(&b))
	var back demo.Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Equal(t, report.Referrals[0].Referral, back.Referrals[0].Referral)
	require.Equal(t, report.Loop.ClosureRate, back.Loop.ClosureRate)
}

// TestRunWithHostInstrument plays a sample whose people answer the host's own
// instrument, screened with the registry the sample was parsed with.
func TestRunWithHostInstrument(t *testing.T) {
	own, err := screening.Parse("food-check.json", []byte(`{"id": "food-check", "version": "1", "title": "Food check",
		"items": [{"id": "fc-food", "key": "food", "text": "Did food run out this month?", "type": "choice",
			"options": [{"code": "yes", "display": "Yes", "value": 1}, {"code": "no", "display": "No", "value": 0}]}],
		"rules": [{"id": "food", "domain": "food-insecurity", "urgency": "urgent", "answers": [{"item": "fc-food", "codes": ["yes"]}]}]}`))
	require.NoError(t, err)
	reg := screening.Default()
	require.NoError(t, reg.Add(own))

	d, p := sampleFiles(t)
	first := p["people"].([]any)[0].(map[string]any)
	first["answers"] = map[string]any{"food-check": map[string]any{"answers": map[string]any{"fc-food": "yes"}}}
	first["story"] = map[string]any{}
	p["people"] = []any{first}
	sample, err := demo.ParseSample(marshal(t, d), marshal(t, p), reg, lifecycle.DefaultCodes())
	require.NoError(t, err)

	report, err := demo.Run(context.Background(), memory.New(), demo.Options{Sample: sample, Instruments: reg})
	require.NoError(t, err)
	require.Len(t, report.Referrals, 1)
	require.Equal(t, referral.FoodInsecurity, report.Referrals[0].Domain)
	require.Equal(t, referral.Urgent, report.Referrals[0].Urgency)
	require.Equal(t, referral.StatusCompleted, report.Referrals[0].Status)

	_, err = demo.Run(context.Background(), memory.New(), demo.Options{Sample: sample})
	require.ErrorIs(t, err, referral.ErrNotFound, "the default registry does not hold the host's instrument")
}
