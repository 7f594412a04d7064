package screening

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func builtin(t testing.TB, id string) *Instrument {
	t.Helper()
	reg, err := Builtin()
	require.NoError(t, err)
	in, err := reg.Lookup(id)
	require.NoError(t, err)
	return in
}

// answersFor spreads a total over the instrument's total items, filling items
// in order up to their maximum, and skips the items listed in skip.
func answersFor(t *testing.T, in *Instrument, total int, skip ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	left := total
	for _, id := range in.Total.Items {
		it, _ := in.Item(id)
		top := 0
		for _, o := range it.Options {
			if o.Value != nil && *o.Value > top {
				top = *o.Value
			}
		}
		v := min(left, top)
		left -= v
		out[id] = v
	}
	require.Zero(t, left, "total %d does not fit", total)
	for _, s := range skip {
		delete(out, s)
	}
	return out
}

func parse(t *testing.T, in *Instrument, answers map[string]any) *Response {
	t.Helper()
	b, err := json.Marshal(map[string]any{"answers": answers})
	require.NoError(t, err)
	r, err := ParseAnswers(in, b)
	require.NoError(t, err)
	return r
}

func TestBuiltinsLoad(t *testing.T) {
	reg, err := Builtin()
	require.NoError(t, err)
	var ids []string
	for _, in := range reg.List() {
		ids = append(ids, in.ID)
		require.NotEmpty(t, in.Sources, in.ID)
		require.NotEmpty(t, in.MissingRule, in.ID)
	}
	require.Equal(t, []string{"ahc-hrsn", "gad-7", "hunger-vital-sign", "phq-2", "phq-9", "prapare"}, ids)
	_, err = reg.Lookup("nope")
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func TestBands(t *testing.T) {
	for _, tc := range []struct {
		instrument string
		total      int
		band       string
		positive   bool
	}{
		{"phq-9", 0, "none-minimal", false},
		{"phq-9", 4, "none-minimal", false},
		{"phq-9", 5, "mild", false},
		{"phq-9", 9, "mild", false},
		{"phq-9", 10, "moderate", true},
		{"phq-9", 14, "moderate", true},
		{"phq-9", 15, "moderately-severe", true},
		{"phq-9", 19, "moderately-severe", true},
		{"phq-9", 20, "severe", true},
		{"phq-9", 24, "severe", true},
		{"phq-2", 2, "negative", false},
		{"phq-2", 3, "positive", true},
		{"phq-2", 6, "positive", true},
		{"gad-7", 0, "minimal", false},
		{"gad-7", 4, "minimal", false},
		{"gad-7", 5, "mild", false},
		{"gad-7", 9, "mild", false},
		{"gad-7", 10, "moderate", true},
		{"gad-7", 14, "moderate", true},
		{"gad-7", 15, "severe", true},
		{"gad-7", 21, "severe", true},
	} {
		t.Run(tc.instrument+"/"+strconv.Itoa(tc.total), func(t *testing.T) {
			in := builtin(t, tc.instrument)
			res := parse(t, in, answersFor(t, in, tc.total)).Score()
			require.True(t, res.Valid)
			require.Equal(t, Score{Value: tc.total, Set: true}, res.Total)
			require.Equal(t, tc.band, res.Band)
			require.Empty(t, res.Missing)
			if tc.positive {
				require.Equal(t, []referral.Domain{referral.MentalHealth}, res.PositiveDomains)
				require.Equal(t, []referral.Need{{Domain: referral.MentalHealth, Urgency: referral.Routine, Instrument: tc.instrument}}, res.Needs)
			} else {
				require.Empty(t, res.PositiveDomains)
				require.Empty(t, res.Needs)
			}
		})
	}
}

func TestPHQ9SelfHarm(t *testing.T) {
	in := builtin(t, "phq-9")
	for _, tc := range []struct {
		name    string
		item9   any
		skip    []string
		flagged bool
		total   Score
		valid   bool
	}{
		{"not at all", 0, nil, false, Score{Value: 2, Set: true}, true},
		{"several days, low total", 1, nil, true, Score{Value: 3, Set: true}, true},
		{"nearly every day by code", "LA6571-9", nil, true, Score{Value: 5, Set: true}, true},
		{"by text, other item missing", "More than half the days", []string{"44259-0"}, true, Score{}, false},
		{"item 9 unanswered, no flag", nil, nil, false, Score{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := answersFor(t, in, 2, tc.skip...)
			if tc.item9 == nil {
				delete(a, "44260-8")
			} else {
				a["44260-8"] = tc.item9
			}
			res := parse(t, in, a).Score()
			require.Equal(t, tc.total, res.Total)
			require.Equal(t, tc.valid, res.Valid)
			if tc.flagged {
				require.Equal(t, []string{"self-harm-risk"}, res.Flags)
				require.Equal(t, []referral.Need{{Domain: referral.MentalHealth, Urgency: referral.Emergent, Instrument: "phq-9"}}, res.Needs)
			} else {
				require.Empty(t, res.Flags)
				require.Empty(t, res.Needs)
			}
		})
	}
}

func TestMissingIsNeverZero(t *testing.T) {
	in := builtin(t, "gad-7")
	res := parse(t, in, answersFor(t, in, 0, "69734-2")).Score()
	require.False(t, res.Valid)
	require.False(t, res.Total.Set)
	require.Equal(t, "", res.Band)
	require.Equal(t, []string{"69734-2"}, res.Missing)
	require.Equal(t, []string{"anxiety"}, res.Indeterminate)
	require.Equal(t, StatusUnanswered, res.Items[3].Status)
}

func ahcNegative() map[string]any {
	return map[string]any{
		"71802-3": "LA31993-1", "96778-6": []string{"LA9-3"}, "88122-7": "Never true", "88123-5": "never true",
		"93030-5": "No", "96779-4": "No", "95618-5": 1, "95617-7": 1, "95616-9": 1, "95615-1": 1,
	}
}

func TestAHCCore(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	type change map[string]any
	for _, tc := range []struct {
		name    string
		change  change
		domains []referral.Domain
		flags   []string
		valid   bool
		missing []string
	}{
		{"all negative", nil, nil, nil, true, nil},
		{"worried about losing housing", change{"71802-3": "LA31994-9"}, []referral.Domain{referral.HousingInstability}, nil, true, nil},
		{"no steady place", change{"71802-3": "LA31995-6"}, []referral.Domain{referral.HousingInstability, referral.Homelessness}, nil, true, nil},
		{"housing quality", change{"96778-6": []string{"Mold", "LA32001-2"}}, []referral.Domain{referral.InadequateHousing}, nil, true, nil},
		{"food sometimes", change{"88123-5": "Sometimes true"}, []referral.Domain{referral.FoodInsecurity}, nil, true, nil},
		{"food often", change{"88122-7": "LA28397-0"}, []referral.Domain{referral.FoodInsecurity}, nil, true, nil},
		{"transportation", change{"93030-5": "yes"}, []referral.Domain{referral.TransportationInsecurity}, nil, true, nil},
		{"utilities shut off", change{"96779-4": "Already shut off"}, []referral.Domain{referral.UtilityInsecurity}, nil, true, nil},
		{"utilities threatened", change{"96779-4": "LA33-6"}, []referral.Domain{referral.UtilityInsecurity}, nil, true, nil},
		{"safety 10", change{"95618-5": 4, "95617-7": 2, "95616-9": 2, "95615-1": 2}, nil, nil, true, nil},
		{"safety 11", change{"95618-5": 5, "95617-7": 2, "95616-9": 2, "95615-1": 2}, []referral.Domain{referral.InterpersonalSafety}, []string{"interpersonal-safety-risk"}, true, nil},
		{"safety 20", change{"95618-5": "Frequently", "95617-7": 5, "95616-9": 5, "95615-1": "LA6482-9"}, []referral.Domain{referral.InterpersonalSafety}, []string{"interpersonal-safety-risk"}, true, nil},
		{"safety item missing", change{"95616-9": nil, "95618-5": 5, "95617-7": 5}, nil, nil, false, []string{"95616-9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ahcNegative()
			for k, v := range tc.change {
				if v == nil {
					delete(a, k)
					continue
				}
				a[k] = v
			}
			res := parse(t, in, a).Score()
			require.Equal(t, tc.valid, res.Valid)
			require.Equal(t, append([]string{}, tc.missing...), res.Missing)
			require.Equal(t, append([]referral.Domain{}, tc.domains...), res.PositiveDomains)
			require.Equal(t, append([]string{}, tc.flags...), res.Flags)
			require.Len(t, res.Needs, len(tc.domains))
			for i, n := range res.Needs {
				require.Equal(t, tc.domains[i], n.Domain)
				want := referral.Routine
				if n.Domain == referral.InterpersonalSafety {
					want = referral.Urgent
				}
				require.Equal(t, want, n.Urgency)
			}
			require.False(t, res.Total.Set)
		})
	}
}

func TestAHCSupplemental(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	for _, tc := range []struct {
		name   string
		add    map[string]any
		domain referral.Domain // "" for none
	}{
		{"financial very hard", map[string]any{"76513-1": "Very hard"}, referral.FinancialInsecurity},
		{"financial not hard", map[string]any{"76513-1": "LA31980-8"}, ""},
		{"employment", map[string]any{"96780-2": "LA31982-4"}, referral.EmploymentStatus},
		{"no employment help", map[string]any{"96780-2": "I do not need or want help"}, ""},
		{"could use help", map[string]any{"96781-0": "I could use a little more help", "93159-2": "Never"}, referral.SocialConnection},
		{"lonely always", map[string]any{"96781-0": "LA31976-6", "93159-2": "Always"}, referral.SocialConnection},
		{"lonely sometimes", map[string]any{"96781-0": "LA31977-4", "93159-2": "Sometimes"}, ""},
		{"school help", map[string]any{"96782-8": "Yes", "97027-7": "No"}, referral.EducationalAttainment},
		{"other language at home", map[string]any{"96782-8": "No", "97027-7": "Yes"}, referral.EducationalAttainment},
		{"no education answer", map[string]any{"96782-8": "No", "97027-7": "LA32-8"}, ""},
		{"activity 149", map[string]any{"89555-7": 1, "68516-4": 120}, referral.PhysicalActivity},
		{"activity 150", map[string]any{"89555-7": 5, "68516-4": 30}, ""},
		{"activity 0 days", map[string]any{"89555-7": "0", "68516-4": "150 or greater"}, referral.PhysicalActivity},
		{"activity 7x150", map[string]any{"89555-7": 7, "68516-4": 150}, ""},
		{"alcohol once", map[string]any{"68517-2": "Once or twice", "96842-0": "Never", "95530-2": "Never", "68524-8": "Never"}, referral.SubstanceUse},
		{"substances never", map[string]any{"68517-2": "Never", "96842-0": "Never", "95530-2": "Never", "68524-8": "Never"}, ""},
		{"phq-2 of 3", map[string]any{"44250-9": 2, "44255-8": 1}, referral.MentalHealth},
		{"phq-2 of 2", map[string]any{"44250-9": 1, "44255-8": 1}, ""},
		{"stress quite a bit", map[string]any{"93038-8": "Quite a bit"}, referral.Stress},
		{"stress somewhat", map[string]any{"93038-8": "Somewhat"}, ""},
		{"disability", map[string]any{"69858-9": "No", "69861-3": "Yes"}, referral.Disability},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ahcNegative()
			for k, v := range tc.add {
				a[k] = v
			}
			res := parse(t, in, a).Score()
			require.True(t, res.Valid)
			if tc.domain == "" {
				require.Empty(t, res.PositiveDomains)
				require.Empty(t, res.Needs)
				return
			}
			require.Equal(t, []referral.Domain{tc.domain}, res.PositiveDomains)
			require.Equal(t, []referral.Need{{Domain: tc.domain, Urgency: referral.Routine, Instrument: "ahc-hrsn"}}, res.Needs)
		})
	}
}

func TestDeclined(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	a := ahcNegative()
	a["93038-8"] = "I choose not to answer this question"
	res := parse(t, in, a).Score()
	require.True(t, res.Valid, "a declined optional item does not invalidate the screen")
	require.Equal(t, []string{"93038-8"}, res.Missing)
	require.Contains(t, res.Indeterminate, "stress")
	require.Empty(t, res.Needs)

	r := in.NewResponse()
	require.NoError(t, r.Decline("living-situation"))
	res = r.Score()
	require.False(t, res.Valid)
	require.Equal(t, "71802-3", res.Missing[0])
}

func TestHungerVitalSign(t *testing.T) {
	in := builtin(t, "hunger-vital-sign")
	for _, tc := range []struct {
		name     string
		answers  map[string]any
		positive bool
		valid    bool
		decided  bool
	}{
		{"both never", map[string]any{"88122-7": "Never true", "88123-5": "Never true"}, false, true, true},
		{"first sometimes", map[string]any{"88122-7": "Sometimes true", "88123-5": "Never true"}, true, true, true},
		{"second often", map[string]any{"88122-7": "Never true", "88123-5": "Often true"}, true, true, true},
		{"positive with other missing", map[string]any{"88122-7": "Often true"}, true, false, true},
		{"negative with other missing", map[string]any{"88122-7": "Never true"}, false, false, false},
		{"refused is missing, not never", map[string]any{"88122-7": "Never true", "88123-5": "LA15775-2"}, false, false, false},
		{"positive with other refused", map[string]any{"88122-7": "Don't know/refused", "88123-5": "Sometimes true"}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, in, tc.answers).Score()
			require.Equal(t, tc.valid, res.Valid)
			require.Equal(t, tc.positive, len(res.Needs) == 1)
			require.Equal(t, !tc.decided, len(res.Indeterminate) == 1)
			require.False(t, res.Total.Set)
		})
	}
}

func TestBadAnswers(t *testing.T) {
	phq9 := builtin(t, "phq-9")
	ahc := builtin(t, "ahc-hrsn")
	for _, tc := range []struct {
		name  string
		in    *Instrument
		body  string
		field string
	}{
		{"unknown item", phq9, `{"answers":{"12345-6":1}}`, "answers.12345-6"},
		{"not an option", phq9, `{"answers":{"44250-9":"sometimes"}}`, "answers.44250-9"},
		{"value out of range", phq9, `{"answers":{"44250-9":4}}`, "answers.44250-9"},
		{"negative value", phq9, `{"answers":{"44250-9":-1}}`, "answers.44250-9"},
		{"fraction", phq9, `{"answers":{"44250-9":1.5}}`, "answers.44250-9"},
		{"duplicate item", phq9, `{"answers":{"44250-9":1,"44250-9":2}}`, "answers.44250-9"},
		{"duplicate by key", phq9, `{"answers":{"44250-9":1,"interest":2}}`, "answers.44250-9"},
		{"several on single", phq9, `{"answers":{"44250-9":[1,2]}}`, "answers.44250-9"},
		{"exclusive combined", ahc, `{"answers":{"96778-6":["Mold","None of the above"]}}`, "answers.96778-6"},
		{"repeated option", ahc, `{"answers":{"96778-6":["Mold","LA28580-1"]}}`, "answers.96778-6"},
		{"ambiguous value", ahc, `{"answers":{"88122-7":1}}`, "answers.88122-7"},
		{"object answer", phq9, `{"answers":{"44250-9":{"x":1}}}`, "answers.44250-9"},
		{"empty array", ahc, `{"answers":{"96778-6":[]}}`, "answers.96778-6"},
		{"unknown field", phq9, `{"answers":{},"extra":1}`, "extra"},
		{"no answers", phq9, `{}`, "answers"},
		{"not json", phq9, `{"answers":`, "response"},
		{"trailing data", phq9, `{"answers":{}} {}`, "response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseAnswers(tc.in, []byte(tc.body))
			require.Nil(t, r)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.True(t, errors.As(err, &ve))
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

func TestNullAnswerIsUnanswered(t *testing.T) {
	in := builtin(t, "phq-2")
	r, err := ParseAnswers(in, []byte(`{"answers":{"44250-9":null,"44255-8":0}}`))
	require.NoError(t, err)
	res := r.Score()
	require.Equal(t, []string{"44250-9"}, res.Missing)
	require.False(t, res.Valid)
}

func TestScoreIntoReuses(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	a := ahcNegative()
	a["95618-5"] = 5
	a["95617-7"] = 5
	first := parse(t, in, a)
	second := parse(t, in, ahcNegative())
	var res Result
	first.ScoreInto(&res)
	require.Equal(t, []string{"interpersonal-safety-risk"}, res.Flags)
	second.ScoreInto(&res)
	require.Empty(t, res.Flags)
	require.Empty(t, res.Needs)
	require.Equal(t, second.Score().Items, res.Items)
}

func TestScreening(t *testing.T) {
	in := builtin(t, "phq-9")
	a := answersFor(t, in, 12)
	res := parse(t, in, a).Score()
	ids := referral.NewIDGenerator(func() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) }, zeroReader{})
	id, network, person := ids.MustNew(), ids.MustNew(), ids.MustNew()
	at := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	s := res.Screening(id, network, person, at)
	require.NoError(t, s.Validate())
	require.Equal(t, 12.0, *s.Total)
	require.Equal(t, "moderate", s.Band)
	require.Equal(t, "1.0.0", s.Version)
	require.Equal(t, []referral.Need{{Domain: referral.MentalHealth, Urgency: referral.Routine, Instrument: "phq-9", Screening: id}}, s.Needs)
	require.Equal(t, []string{"LA6571-9"}, s.Answers["44250-9"])
	require.Len(t, s.Answers, 9)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestBuiltinRegistriesAreIndependent(t *testing.T) {
	a, err := Builtin()
	require.NoError(t, err)
	b, err := Builtin()
	require.NoError(t, err)
	own, err := Parse("tiny.json", []byte(tiny))
	require.NoError(t, err)
	require.NoError(t, a.Add(own))
	_, err = a.Lookup("tiny")
	require.NoError(t, err)
	_, err = b.Lookup("tiny")
	require.ErrorIs(t, err, referral.ErrNotFound, "adding to one registry leaves the others alone")
}
