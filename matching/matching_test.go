package matching_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

func TestCheckRule(t *testing.T) {
	tests := []struct {
		name, rule string
		wantErr    string
	}{
		{"boolean", `age >= 18 && fpl_percent <= 200`, ""},
		{"helpers", `has_need("food-insecurity") || speaks("es")`, ""},
		{"attributes", `attributes["tribal"] == "yes"`, ""},
		{"collection builtins", `any(languages, # == "es") && len(needs) > 0`, ""},
		{"not boolean", `age + 1`, "expected bool"},
		{"unknown name", `incom < 100`, "unknown name incom"},
		{"clock builtin disabled", `now().Year() > 2000`, "now"},
		{"syntax", `age >=`, "unexpected"},
		{"empty", `   `, "empty"},
		{"too many nodes", repeat(`age > 1 && `, 300) + `true`, "exceeds maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matching.CheckRule(tt.rule)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorIs(t, err, referral.ErrInvalid)
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestNewRejectsBadRuleNamingService(t *testing.T) {
	dir := exampleDirectory()
	dir[1].Eligibility = "veteran &&\n  age >> 3"
	_, err := matching.New(context.Background(), dir, matching.Options{})
	var re *matching.RuleError
	require.ErrorAs(t, err, &re)
	require.Equal(t, dir[1].ID, re.Service)
	require.Equal(t, 2, re.Line)
	require.Contains(t, err.Error(), dir[1].ID.String())
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestNewRejectsBadServices(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *referral.Service)
		field  string
	}{
		{"unknown domain", func(s *referral.Service) { s.Domains = []referral.Domain{"no-such-domain"} }, "services[0].domains[0]"},
		{"no status", func(s *referral.Service) { s.Status = "" }, "services[0].status"},
		{"bad latitude", func(s *referral.Service) { s.Locations[0].Latitude = 95 }, "services[0].locations[0].latitude"},
		{"county without values", func(s *referral.Service) {
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaCounty}}
		}, "services[0].service_areas[0].values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := exampleDirectory()
			tt.mutate(&dir[0])
			_, err := matching.New(context.Background(), dir, matching.Options{})
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
		})
	}
}

func TestRequestErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *matching.Request)
		field  string
	}{
		{"no needs", func(r *matching.Request) { r.Needs = nil }, "needs"},
		{"no location", func(r *matching.Request) { r.Near = nil }, "near"},
		{"latitude out of range", func(r *matching.Request) { r.Near.Latitude = -91 }, "near.latitude"},
		{"longitude out of range", func(r *matching.Request) { r.Near.Longitude = 181 }, "near.longitude"},
		{"negative radius", func(r *matching.Request) { r.RadiusM = -1 }, "radius_m"},
		{"zero radius", func(r *matching.Request) { r.RadiusM = 0 }, "radius_m"},
		{"unknown domain", func(r *matching.Request) { r.Needs[0].Domain = "astrology" }, "needs[0].domain"},
		{"bad urgency", func(r *matching.Request) { r.Needs[0].Urgency = "soon" }, "needs[0].urgency"},
		{"bad order", func(r *matching.Request) { r.Order = "random" }, "order"},
		{"negative limit", func(r *matching.Request) { r.Limit = -1 }, "limit"},
		{"bad state", func(r *matching.Request) { r.Person.State = "California" }, "person.state"},
		{"born after as_of", func(r *matching.Request) { r.Person.BirthDate = referral.Date{Year: 2030, Month: 1, Day: 1} }, "person.birth_date"},
	}
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := exampleRequest()
			tt.mutate(&req)
			_, err := ix.Match(context.Background(), req)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
		})
	}
}

func TestGuidelines(t *testing.T) {
	g := matching.DefaultGuidelines()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		household int
		state     string
		at        time.Time
		guideline float64
		ok        bool
	}{
		{"2025 contiguous 1", 1, "NY", day(2025, 6, 1), 15650, true},
		{"2025 contiguous 8", 8, "DC", day(2025, 6, 1), 54150, true},
		{"2025 alaska 2", 2, "AK", day(2025, 6, 1), 26430, true},
		{"2025 hawaii 1", 1, "HI", day(2025, 6, 1), 17990, true},
		{"2026 contiguous 4", 4, "TX", day(2026, 2, 1), 33000, true},
		{"2026 contiguous 9", 9, "TX", day(2026, 2, 1), 55720 + 5680, true},
		{"2026 alaska 8", 8, "AK", day(2026, 2, 1), 69650, true},
		{"2026 hawaii 4", 4, "HI", day(2026, 2, 1), 37950, true},
		{"2025 still in force on 12 Jan 2026", 1, "CA", day(2026, 1, 12), 15650, true},
		{"before any table", 1, "CA", day(2024, 12, 1), 0, false},
		{"territory", 1, "PR", day(2026, 2, 1), 0, false},
		{"no household", 0, "CA", day(2026, 2, 1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pct, ok := g.FPLPercent(tt.guideline, tt.household, tt.state, tt.at)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.InDelta(t, 100, pct, 1e-9)
			}
		})
	}
}

func TestMatchExplainsEveryExclusion(t *testing.T) {
	dir := exampleDirectory()
	base := dir[0]
	mk := func(n byte, mutate func(s *referral.Service)) referral.Service {
		s := base.Clone()
		s.ID[15] = n
		s.Locations[0].ID[15] = n
		mutate(&s)
		return s
	}
	services := []referral.Service{
		mk(0x10, func(s *referral.Service) { s.Status = referral.ServiceInactive }),
		mk(0x11, func(s *referral.Service) { s.Domains = []referral.Domain{referral.Childcare} }),
		mk(0x12, func(s *referral.Service) { s.Capacity = &referral.Capacity{} }),
		mk(0x13, func(s *referral.Service) { s.MinimumAge = 60 }),
		mk(0x14, func(s *referral.Service) { s.Eligibility = "household_size >= 1 && fpl_percent <= 100" }),
		mk(0x15, func(s *referral.Service) { s.Locations[0].Latitude += 0.1 }), // ~11.6 km away
		mk(0x16, func(s *referral.Service) { s.Eligibility = `attributes["x"] == "y"` }),
	}
	ix, err := matching.New(context.Background(), services, matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Full = matching.Exclude
	res, err := ix.Match(context.Background(), req)
	require.NoError(t, err)
	require.Empty(t, res.Matches)
	got := map[byte][]string{}
	for _, x := range res.Excluded {
		for _, r := range x.Reasons {
			got[x.Service[15]] = append(got[x.Service[15]], r.Code+": "+r.Detail)
		}
	}
	require.Equal(t, map[byte][]string{
		0x10: {"inactive: inactive"},
		0x11: {"domain-mismatch: "},
		0x12: {"no-capacity: "},
		0x13: {"age-limit: minimum age 60"},
		0x14: {"rule-failed: clause is false: fpl_percent <= 100"},
		0x15: {"out-of-radius: " + strconv.FormatFloat(matching.DistanceM(37.8, -122.27, 37.9044, -122.2712)/1000, 'f', 2, 64) + " km"},
		0x16: {"unknown-fact: eligibility rule needs attributes[\"x\"]"},
	}, got)

	req.Full = matching.RankDown
	req.Explain = false
	res, err = ix.Match(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, res.Matches, 1, "the full service is ranked, not excluded")
	require.Zero(t, res.Matches[0].Breakdown.Capacity)
	require.Nil(t, res.Excluded)
}

func TestUnknownFactsExclude(t *testing.T) {
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Person.IncomeAnnual = nil
	res, err := ix.Match(context.Background(), req)
	require.NoError(t, err)
	require.Empty(t, res.Matches)
	require.Equal(t, matching.Reason{Code: matching.ReasonUnknownFact, Detail: "eligibility rule needs fpl_percent"}, res.Excluded[0].Reasons[0])
}

func TestAreasAndOrdering(t *testing.T) {
	dir := exampleDirectory()
	veteran := exampleRequest()
	veteran.Person.Veteran = referral.Known(true)
	ix, err := matching.New(context.Background(), dir, matching.Options{})
	require.NoError(t, err)
	res, err := ix.Match(context.Background(), veteran)
	require.NoError(t, err)
	require.Len(t, res.Matches, 2)
	require.Equal(t, dir[0].ID, res.Matches[0].Service, "the nearby pantry outranks the virtual line")
	require.Equal(t, referral.AreaVirtual, res.Matches[1].Area)
	require.Nil(t, res.Matches[1].DistanceM)
	require.Contains(t, res.Matches[1].Reasons, matching.Reason{Code: matching.ReasonServesArea, Detail: "virtual"})

	veteran.Order = matching.ByDistance
	veteran.Limit = 1
	res, err = ix.Match(context.Background(), veteran)
	require.NoError(t, err)
	require.Len(t, res.Matches, 1)
	require.Equal(t, dir[0].ID, res.Matches[0].Service)
}

func TestSharedRulesCompileOnce(t *testing.T) {
	dir := exampleDirectory()
	for i := range 50 {
		s := dir[0].Clone()
		s.ID[14] = byte(i + 1)
		dir = append(dir, s)
	}
	ix, err := matching.New(context.Background(), dir, matching.Options{})
	require.NoError(t, err)
	require.Equal(t, 2, ix.Snapshot().Rules())
}

func TestUpdateSwapsAtomically(t *testing.T) {
	ctx := context.Background()
	dir := exampleDirectory()
	ix, err := matching.New(context.Background(), dir[:1], matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Person.Veteran = referral.Known(true)
	req.Explain = false

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := ix.Match(ctx, req)
				if err != nil || len(res.Matches) < 1 || len(res.Matches) > 2 {
					t.Errorf("reader saw a torn index: %v %d", err, len(res.Matches))
					return
				}
			}
		}()
	}
	require.NoError(t, ix.Update(ctx, matching.Put(dir[1])))
	require.NoError(t, ix.Update(ctx, matching.SetCapacity(dir[0].ID, &referral.Capacity{Waitlist: 3})))
	close(stop)
	wg.Wait()

	res, err := ix.Match(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Matches, 2)
	require.InDelta(t, 0.25, res.Matches[0].Breakdown.Capacity, 1e-9)

	require.NoError(t, ix.Update(ctx, matching.Remove(dir[1].ID), matching.Put(dir[1]), matching.Remove(dir[1].ID)))
	require.Equal(t, 1, ix.Snapshot().Len())
	err = ix.Update(ctx, matching.Remove(dir[1].ID))
	require.ErrorIs(t, err, referral.ErrNotFound)
	err = ix.Update(ctx, matching.SetCapacity(dir[1].ID, nil))
	require.ErrorIs(t, err, referral.ErrNotFound)

	bad := dir[1].Clone()
	bad.Eligibility = "nope("
	var re *matching.RuleError
	require.ErrorAs(t, ix.Update(ctx, matching.Put(bad)), &re)
	require.Equal(t, 1, ix.Snapshot().Len(), "a failed update changes nothing")
}

func TestResultJSON(t *testing.T) {
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Explain = false
	res, err := ix.Match(context.Background(), req)
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	require.NotContains(t, back, "excluded")
	m := back["matches"].([]any)[0].(map[string]any)
	for _, k := range []string{"service_id", "location_id", "distance_m", "score", "score_breakdown", "reasons"} {
		require.Contains(t, m, k)
	}
}

func TestContextCancelled(t *testing.T) {
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ix.Match(ctx, exampleRequest())
	require.True(t, errors.Is(err, context.Canceled))
}
