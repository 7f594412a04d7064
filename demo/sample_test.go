package demo_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// sampleFiles returns the bundled documents, marshalled back from LoadSample,
// so tests can break one field at a time.
func sampleFiles(t testing.TB) (directory, people map[string]any) {
	t.Helper()
	s, err := demo.LoadSample()
	require.NoError(t, err)
	roundTrip := func(v any) map[string]any {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m
	}
	directory = roundTrip(map[string]any{"network": s.Network, "organizations": s.Organizations, "services": s.Services})
	people = roundTrip(map[string]any{"referrer": s.Referrer, "people": s.People})
	return directory, people
}

func marshal(t testing.TB, v any) []byte {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func TestLoadSample(t *testing.T) {
	s, err := demo.LoadSample()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(s.Services), 200, "a few hundred services")
	require.NotEmpty(t, s.People)
	// Each call is a fresh copy: changing one never changes the next.
	s.People[0].Person.GivenName = "changed"
	again, err := demo.LoadSample()
	require.NoError(t, err)
	require.NotEqual(t, "changed", again.People[0].Person.GivenName)
}

func TestParseSampleRejects(t *testing.T) {
	person := func(p map[string]any) map[string]any {
		return p["people"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name      string
		directory func(d map[string]any)
		people    func(p map[string]any)
		raw       func(dir, ppl []byte) ([]byte, []byte)
		field     string
	}{
		{name: "unknown field", people: func(p map[string]any) { p["extra"] = 1 }, field: "unknown field"},
		{name: "trailing data", raw: func(d, p []byte) ([]byte, []byte) { return d, append(p, []byte(` {}`)...) }, field: "trailing data"},
		{name: "not JSON", raw: func(d, p []byte) ([]byte, []byte) { return []byte(`{"network":`), p }, field: "sample directory"},
		{name: "no services", directory: func(d map[string]any) { d["services"] = []any{} }, field: "services"},
		{name: "service of an unknown organization", directory: func(d map[string]any) {
			d["services"].([]any)[0].(map[string]any)["organization_id"] = referral.NewID().String()
		}, field: "services[0].organization_id"},
		{name: "referrer of another network", people: func(p map[string]any) {
			p["referrer"].(map[string]any)["network_id"] = referral.NewID().String()
		}, field: "referrer.network_id"},
		{name: "person of another network", people: func(p map[string]any) {
			person(p)["person"].(map[string]any)["network_id"] = referral.NewID().String()
		}, field: "people[0].network_id"},
		{name: "person without a location", people: func(p map[string]any) {
			delete(person(p)["person"].(map[string]any), "location")
		}, field: "people[0].location"},
		{name: "unknown instrument", people: func(p map[string]any) {
			person(p)["answers"].(map[string]any)["no-such-instrument"] = map[string]any{"answers": map[string]any{}}
		}, field: "people[0].answers"},
		{name: "answer not an option", people: func(p map[string]any) {
			person(p)["answers"].(map[string]any)["phq-9"] = map[string]any{"answers": map[string]any{"44250-9": "Sometimes, maybe"}}
		}, field: "people[0].answers.phq-9"},
		{name: "story of unknown domain", people: func(p map[string]any) {
			person(p)["story"] = map[string]any{"no-such-domain": "complete"}
		}, field: "people[0].story"},
		{name: "unknown story", people: func(p map[string]any) {
			person(p)["story"] = map[string]any{"food-insecurity": "vanish"}
		}, field: "story"},
		{name: "decline without a decline code", people: func(p map[string]any) {
			person(p)["story"] = map[string]any{"food-insecurity": "decline:got-bored"}
		}, field: "story"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, p := sampleFiles(t)
			if tt.directory != nil {
				tt.directory(d)
			}
			if tt.people != nil {
				tt.people(p)
			}
			dir, ppl := marshal(t, d), marshal(t, p)
			if tt.raw != nil {
				dir, ppl = tt.raw(dir, ppl)
			}
			_, err := demo.ParseSample(dir, ppl, screening.Default(), lifecycle.DefaultCodes())
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.ErrorContains(t, err, tt.field)
			require.NotContains(t, err.Error(), "María", "no personal data in errors")
		})
	}
}

func TestStory(t *testing.T) {
	codes := lifecycle.DefaultCodes()
	tests := []struct {
		story   demo.Story
		valid   bool
		decline string
	}{
		{demo.StoryComplete, true, ""},
		{demo.StoryInProgress, true, ""},
		{demo.StoryExpire, true, ""},
		{"decline:no-capacity", true, "no-capacity"},
		{"decline:", false, ""},
		{"decline:nope", false, "nope"},
		{"", false, ""},
		{"Complete", false, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.story), func(t *testing.T) {
			err := tt.story.Validate(codes)
			if tt.valid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, referral.ErrInvalid)
			}
			reason, ok := tt.story.Decline()
			require.Equal(t, strings.HasPrefix(string(tt.story), "decline:"), ok)
			require.Equal(t, tt.decline, reason)
		})
	}
}

// FuzzParseSample feeds arbitrary people documents next to the real
// directory: ParseSample either accepts a sample that validates or returns an
// ErrInvalid, and never panics.
func FuzzParseSample(f *testing.F) {
	// The real people next to a one-service directory, so each input parses
	// in microseconds rather than re-reading the whole bundled directory.
	d, p := sampleFiles(f)
	d["organizations"] = d["organizations"].([]any)[:1]
	svc := d["services"].([]any)[0].(map[string]any)
	svc["organization_id"] = d["organizations"].([]any)[0].(map[string]any)["id"]
	d["services"] = []any{svc}
	dir := marshal(f, d)
	f.Add(marshal(f, p))
	f.Add([]byte(`{"referrer":{},"people":[]}`))
	f.Add([]byte(`{"people":[{"person":{},"answers":{"phq-9":{"answers":{}}},"story":{"x":"decline:"}}]}`))
	reg, codes := screening.Default(), lifecycle.DefaultCodes()
	f.Fuzz(func(t *testing.T, people []byte) {
		s, err := demo.ParseSample(dir, people, reg, codes)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NotEmpty(t, s.People)
		for _, p := range s.People {
			require.NoError(t, p.Person.Validate())
			require.Equal(t, s.Network.ID, p.Person.Network)
		}
	})
}
