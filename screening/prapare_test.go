package screening

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// prapareNoRisk answers every PRAPARE core item without a risk answer.
func prapareNoRisk() map[string]any {
	return map[string]any{
		"56051-6": "No", "32624-9": []string{"White"}, "93035-4": "No", "93034-7": "LA32-8",
		"54899-0": "English", "71802-3": "I have housing", "93033-9": "No", "82589-3": "More than high school",
		"67875-5": "Full-time work", "76437-3": "Private insurance", "93031-3": []string{"None of the above"},
		"93030-5": []string{"No"}, "93029-7": "5 or more times a week", "93038-8": "A little bit",
	}
}

// prapareAllRisks answers every core item with its risk answers, checking
// every option of the check-all-that-apply items.
func prapareAllRisks() map[string]any {
	return map[string]any{
		"56051-6": "Yes", "32624-9": []string{"Asian", "LA14042-8"}, "93035-4": "Yes", "93034-7": "Yes",
		"54899-0": "Language other than English", "71802-3": "LA30190-5", "93033-9": "Yes",
		"82589-3": "Less than high school degree", "67875-5": "Unemployed", "76437-3": "None/uninsured",
		"93031-3": []string{"Food", "Clothing", "Utilities", "Child care", "LA30128-5", "Phone", "Other"},
		"93030-5": []string{"LA30133-5", "LA30134-3"}, "93029-7": "Less than once a week", "93038-8": "Very much",
	}
}

func with(base map[string]any, change map[string]any) map[string]any {
	for k, v := range change {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return base
}

func TestPRAPARERiskTally(t *testing.T) {
	in := builtin(t, "prapare")
	type change = map[string]any
	for _, tc := range []struct {
		name    string
		change  change
		total   int
		domains []referral.Domain
	}{
		{"no risk", nil, 0, nil},
		{"hispanic or latino", change{"56051-6": "Yes"}, 1, nil},
		{"race other than white", change{"32624-9": []string{"Black/African American"}}, 1, nil},
		{"white and another race", change{"32624-9": []string{"White", "Pacific Islander"}}, 1, nil},
		{"two races count once", change{"32624-9": []string{"LA6156-9", "LA4-4"}}, 1, nil},
		{"other race", change{"32624-9": []string{"Other"}}, 1, nil},
		{"farm work", change{"93035-4": "Yes"}, 1, nil},
		{"veteran", change{"93034-7": "Yes"}, 1, []referral.Domain{referral.VeteranStatus}},
		{"language other than english", change{"54899-0": "LA30188-9"}, 1, nil},
		{"no housing", change{"71802-3": "LA30190-5"}, 1, []referral.Domain{referral.Homelessness}},
		{"worried about housing", change{"93033-9": "yes"}, 1, []referral.Domain{referral.HousingInstability}},
		{"less than high school", change{"82589-3": "LA30191-3"}, 1, []referral.Domain{referral.EducationalAttainment}},
		{"high school diploma", change{"82589-3": "High school diploma or GED"}, 0, nil},
		{"unemployed", change{"67875-5": "Unemployed"}, 1, []referral.Domain{referral.EmploymentStatus}},
		{"part-time", change{"67875-5": "Part-time or temporary work"}, 1, []referral.Domain{referral.EmploymentStatus}},
		{"not seeking work", change{"67875-5": "LA30137-6"}, 0, nil},
		{"uninsured", change{"76437-3": "None/uninsured"}, 1, []referral.Domain{referral.HealthInsurance}},
		{"medicaid", change{"76437-3": "Medicaid"}, 0, nil},
		{"food", change{"93031-3": []string{"Food"}}, 1, []referral.Domain{referral.FoodInsecurity}},
		{"utilities", change{"93031-3": []string{"LA30124-4"}}, 1, []referral.Domain{referral.UtilityInsecurity}},
		{"child care", change{"93031-3": []string{"Child care"}}, 1, []referral.Domain{referral.Childcare}},
		{"each material need counts", change{"93031-3": []string{"Clothing", "Phone", "Medicine or any health care (medical, dental, mental health, vision)"}}, 3, []referral.Domain{referral.MaterialHardship}},
		{"medical transportation", change{"93030-5": []string{"LA30133-5"}}, 1, []referral.Domain{referral.TransportationInsecurity}},
		{"both transportation barriers", change{"93030-5": []string{"LA30133-5", "LA30134-3"}}, 2, []referral.Domain{referral.TransportationInsecurity}},
		{"isolated", change{"93029-7": "1 or 2 times a week"}, 1, []referral.Domain{referral.SocialConnection}},
		{"3 to 5 times a week", change{"93029-7": "3 to 5 times a week"}, 0, nil},
		{"stress quite a bit", change{"93038-8": "Quite a bit"}, 1, []referral.Domain{referral.Stress}},
		{"stress somewhat", change{"93038-8": "Somewhat"}, 0, nil},
		{"every core risk", prapareAllRisks(), 21, []referral.Domain{
			referral.VeteranStatus, referral.Homelessness, referral.HousingInstability, referral.EducationalAttainment,
			referral.EmploymentStatus, referral.HealthInsurance, referral.FoodInsecurity, referral.MaterialHardship,
			referral.UtilityInsecurity, referral.Childcare, referral.TransportationInsecurity, referral.SocialConnection,
			referral.Stress}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, in, with(prapareNoRisk(), tc.change)).Score()
			require.True(t, res.Valid)
			require.Empty(t, res.Missing)
			require.Equal(t, []string{"unsafe-at-home", "afraid-of-partner"}, res.Indeterminate, "only the optional items were not asked")
			require.Equal(t, Score{Value: tc.total, Set: true}, res.Total)
			require.Equal(t, "", res.Band)
			require.Equal(t, append([]referral.Domain{}, tc.domains...), res.PositiveDomains)
			require.Empty(t, res.Flags)
			require.Len(t, res.Needs, len(tc.domains))
			for i, n := range res.Needs {
				require.Equal(t, referral.Need{Domain: tc.domains[i], Urgency: referral.Routine, Instrument: "prapare"}, n)
			}
		})
	}
}

func TestPRAPAREMissingAndDeclined(t *testing.T) {
	in := builtin(t, "prapare")
	declined := "I choose not to answer this question"
	type change = map[string]any
	for _, tc := range []struct {
		name    string
		base    map[string]any
		change  change
		missing []string
		domains []referral.Domain
	}{
		{"ethnicity declined", prapareNoRisk(), change{"56051-6": declined}, []string{"56051-6"}, nil},
		{"race declined", prapareNoRisk(), change{"32624-9": []string{"LA30122-8"}}, []string{"32624-9"}, nil},
		{"material needs declined", prapareNoRisk(), change{"93031-3": []string{declined}}, []string{"93031-3"}, nil},
		{"material needs not asked", prapareNoRisk(), change{"93031-3": nil}, []string{"93031-3"}, nil},
		{"transportation unable to respond", prapareNoRisk(), change{"93030-5": []string{"Patient unable to respond"}}, []string{"93030-5"}, nil},
		{"stress unanswered", prapareNoRisk(), change{"93038-8": nil}, []string{"93038-8"}, nil},
		{"insurance unanswered", prapareNoRisk(), change{"76437-3": nil}, []string{"76437-3"}, nil},
		{"risks still reported", prapareAllRisks(), change{"82589-3": declined, "93029-7": nil}, []string{"82589-3", "93029-7"}, []referral.Domain{
			referral.VeteranStatus, referral.Homelessness, referral.HousingInstability,
			referral.EmploymentStatus, referral.HealthInsurance, referral.FoodInsecurity, referral.MaterialHardship,
			referral.UtilityInsecurity, referral.Childcare, referral.TransportationInsecurity, referral.Stress}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, in, with(tc.base, tc.change)).Score()
			require.False(t, res.Valid, "a missing core item invalidates the tally")
			require.False(t, res.Total.Set, "the tally is never computed over a missing item")
			require.Equal(t, tc.missing, res.Missing)
			require.Equal(t, append([]referral.Domain{}, tc.domains...), res.PositiveDomains)
			require.NotEmpty(t, res.Indeterminate)
		})
	}

	t.Run("empty response", func(t *testing.T) {
		res := in.NewResponse().Score()
		require.False(t, res.Valid)
		require.False(t, res.Total.Set)
		require.Len(t, res.Missing, 14)
		require.Len(t, res.Indeterminate, len(in.Rules))
		require.Empty(t, res.Needs)
	})
	t.Run("decline through the API", func(t *testing.T) {
		r := parse(t, in, with(prapareNoRisk(), change{"54899-0": nil}))
		require.NoError(t, r.Decline("language"))
		res := r.Score()
		require.Equal(t, []string{"54899-0"}, res.Missing)
		require.Equal(t, []string{"LA30122-8"}, res.Items[4].Answers)
		require.Equal(t, StatusDeclined, res.Items[4].Status)
		require.False(t, res.Total.Set)
	})
}

func TestPRAPAREOptionalItems(t *testing.T) {
	in := builtin(t, "prapare")
	type change = map[string]any
	for _, tc := range []struct {
		name    string
		change  change
		domains []referral.Domain
		flags   []string
		missing []string
	}{
		{"all optional no risk", change{"93028-9": "No", "93027-1": "No", "93026-3": "Yes", "76501-6": "No"}, nil, nil, nil},
		{"incarceration and refugee are not scored", change{"93028-9": "Yes", "93027-1": "Yes"}, nil, nil, nil},
		{"unsafe at home", change{"93026-3": "No"}, []referral.Domain{referral.InterpersonalSafety}, []string{"interpersonal-safety-risk"}, nil},
		{"unsure about safety", change{"93026-3": "Unsure"}, nil, nil, nil},
		{"afraid of partner", change{"76501-6": "LA33-6"}, []referral.Domain{referral.IntimatePartnerViolence}, []string{"intimate-partner-violence-risk"}, nil},
		{"no partner", change{"76501-6": "I have not had a partner in the past year"}, nil, nil, nil},
		{"optional declined", change{"76501-6": "I choose not to answer this question"}, nil, nil, []string{"76501-6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, in, with(prapareNoRisk(), tc.change)).Score()
			require.True(t, res.Valid, "optional items never invalidate the screen")
			require.Equal(t, Score{Value: 0, Set: true}, res.Total, "optional items are not in the tally")
			require.Equal(t, append([]string{}, tc.missing...), res.Missing)
			require.Equal(t, append([]referral.Domain{}, tc.domains...), res.PositiveDomains)
			require.Equal(t, append([]string{}, tc.flags...), res.Flags)
			for _, n := range res.Needs {
				require.Equal(t, referral.Urgent, n.Urgency)
			}
		})
	}
}

func TestPRAPAREBadAnswers(t *testing.T) {
	in := builtin(t, "prapare")
	for _, tc := range []struct {
		name, body, field string
	}{
		{"none with a need", `{"answers":{"93031-3":["None of the above","Food"]}}`, "answers.93031-3"},
		{"declined with a race", `{"answers":{"32624-9":["White","I choose not to answer this question"]}}`, "answers.32624-9"},
		{"no with a barrier", `{"answers":{"93030-5":["No","LA30133-5"]}}`, "answers.93030-5"},
		{"two answers on a single item", `{"answers":{"93038-8":["Somewhat","Very much"]}}`, "answers.93038-8"},
		{"not an option", `{"answers":{"71802-3":"LA31993-1"}}`, "answers.71802-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseAnswers(in, []byte(tc.body))
			require.Nil(t, r)
			var ve *referral.ValidationError
			require.True(t, errors.As(err, &ve), err)
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

// prapareQR is a QuestionnaireResponse shaped like the HL7 US Core PRAPARE
// example: items nested in the panel's groups, linkIds as LHC-Forms paths.
const prapareQR = `{"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"/93025-5","item":[
 {"linkId":"/93043-8","item":[
  {"linkId":"/93043-8/56051-6","answer":[{"valueCoding":{"system":"http://loinc.org","code":"LA32-8"}}]},
  {"linkId":"/93043-8/32624-9","answer":[{"valueCoding":{"code":"LA4457-3"}},{"valueCoding":{"code":"LA30187-1"}}]},
  {"linkId":"/93043-8/93035-4","answer":[{"valueCoding":{"code":"LA33-6"}}]},
  {"linkId":"/93043-8/93034-7","answer":[{"valueCoding":{"code":"LA32-8"}}]},
  {"linkId":"/93043-8/54899-0","answer":[{"valueCoding":{"code":"LA43-5"}}]}]},
 {"linkId":"/93042-0","item":[
  {"linkId":"/93042-0/71802-3","answer":[{"valueCoding":{"code":"LA30190-5"}}]},
  {"linkId":"/93042-0/93033-9","answer":[{"valueCoding":{"code":"LA30122-8"}}]}]},
 {"linkId":"/93041-2","item":[
  {"linkId":"/93041-2/82589-3","answer":[{"valueCoding":{"code":"LA30191-3"}}]},
  {"linkId":"/93041-2/67875-5","answer":[{"valueCoding":{"code":"LA17956-6"}}]},
  {"linkId":"/93041-2/76437-3","answer":[{"valueCoding":{"code":"LA17849-3"}}]},
  {"linkId":"/93041-2/93031-3","answer":[{"valueCoding":{"code":"LA30125-1"}},{"valueCoding":{"code":"LA30124-4"}}]},
  {"linkId":"/93041-2/93030-5","answer":[{"valueCoding":{"code":"LA30133-5"}}]}]},
 {"linkId":"/93040-4","item":[
  {"linkId":"/93040-4/93029-7","answer":[{"valueString":"3 to 5 times a week"}]},
  {"linkId":"/93040-4/93038-8","answer":[{"valueCoding":{"code":"LA13909-9"}}]}]},
 {"linkId":"/93039-6","item":[
  {"linkId":"/93039-6/93026-3","answer":[{"valueCoding":{"code":"LA32-8"}}]}]}]}]}`

func TestPRAPAREQuestionnaireResponse(t *testing.T) {
	in := builtin(t, "prapare")
	r, err := ParseQuestionnaireResponse(in, []byte(prapareQR))
	require.NoError(t, err)
	res := r.Score()
	require.False(t, res.Valid, "housing worry was declined")
	require.Equal(t, []string{"93033-9"}, res.Missing)
	require.False(t, res.Total.Set)
	require.Equal(t, []referral.Domain{referral.Homelessness, referral.EducationalAttainment, referral.EmploymentStatus,
		referral.FoodInsecurity, referral.UtilityInsecurity, referral.TransportationInsecurity, referral.InterpersonalSafety}, res.PositiveDomains)
	require.Equal(t, []string{"interpersonal-safety-risk"}, res.Flags)

	// Answering the declined item makes the tally computable: farm work,
	// race, no housing, education, unemployment, food, utilities, medical
	// transportation, and now housing worry.
	answered := strings.Replace(prapareQR, `"/93042-0/93033-9","answer":[{"valueCoding":{"code":"LA30122-8"}}]`, `"/93042-0/93033-9","answer":[{"valueCoding":{"code":"LA33-6"}}]`, 1)
	r, err = ParseQuestionnaireResponse(in, []byte(answered))
	require.NoError(t, err)
	res = r.Score()
	require.True(t, res.Valid)
	require.Equal(t, Score{Value: 9, Set: true}, res.Total)

	obs := r.Observations(&res, ObservationOptions{Prefix: "p", Subject: "Patient/1", At: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)})
	panel := obs[len(obs)-1]
	require.Equal(t, "93025-5", panel.Code.Coding[0].Code)
	require.Equal(t, 9, *panel.ValueInteger)
}

const tally = `{
  "id": "tally", "version": "1", "title": "Tally",
  "items": [
    {"id": "a", "key": "a", "text": "A?", "options": [{"code": "y", "display": "Yes"}, {"code": "n", "display": "No"}]},
    {"id": "b", "key": "b", "text": "B?", "multiple": true,
     "options": [{"code": "x", "display": "X"}, {"code": "z", "display": "Z"}, {"code": "none", "display": "None", "exclusive": true}]}
  ],
  "total": {"rules": ["a-yes", "b-x", "b-z"]},
  "bands": [{"name": "low", "min": 0, "max": 1}, {"name": "high", "min": 2, "max": 3}],
  "rules": [
    {"id": "a-yes", "urgency": "routine", "answers": [{"item": "a", "codes": ["y"]}]},
    {"id": "b-x", "domain": "stress", "urgency": "routine", "answers": [{"item": "b", "codes": ["x"]}]},
    {"id": "b-z", "domain": "stress", "urgency": "urgent", "answers": [{"item": "b", "codes": ["z"]}]},
    {"id": "high", "flag": "high-tally", "urgency": "urgent", "total_at_least": 2}
  ]
}`

func TestTallyTotal(t *testing.T) {
	in, err := Parse("tally.json", []byte(tally))
	require.NoError(t, err)
	for _, tc := range []struct {
		a, b  []string
		total Score
		band  string
		flags []string
		needs []referral.Need
	}{
		{[]string{"n"}, []string{"none"}, Score{Value: 0, Set: true}, "low", nil, nil},
		{[]string{"y"}, []string{"none"}, Score{Value: 1, Set: true}, "low", nil, nil},
		{[]string{"n"}, []string{"x"}, Score{Value: 1, Set: true}, "low", nil, []referral.Need{{Domain: referral.Stress, Urgency: referral.Routine, Instrument: "tally"}}},
		{[]string{"y"}, []string{"x", "z"}, Score{Value: 3, Set: true}, "high", []string{"high-tally"}, []referral.Need{{Domain: referral.Stress, Urgency: referral.Urgent, Instrument: "tally"}}},
		{nil, []string{"x", "z"}, Score{}, "", nil, []referral.Need{{Domain: referral.Stress, Urgency: referral.Urgent, Instrument: "tally"}}},
	} {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			r := in.NewResponse()
			if tc.a != nil {
				require.NoError(t, r.Answer("a", tc.a...))
			}
			require.NoError(t, r.Answer("b", tc.b...))
			res := r.Score()
			require.Equal(t, tc.total, res.Total)
			require.Equal(t, tc.band, res.Band)
			require.Equal(t, append([]string{}, tc.flags...), res.Flags)
			require.Equal(t, append([]referral.Need{}, tc.needs...), res.Needs)
			if !tc.total.Set {
				require.Equal(t, []string{"a-yes", "high"}, res.Indeterminate)
			}
		})
	}
}

func TestTallyDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, path, problem string
	}{
		{"items and rules", `"total": {"rules"`, `"total": {"items": ["a"], "rules"`, "total", "items or rules, not both"},
		{"unknown rule", `["a-yes", "b-x", "b-z"]`, `["a-yes", "b-x", "b-q"]`, "total.rules[2]", "names no rule"},
		{"repeated rule", `["a-yes", "b-x", "b-z"]`, `["a-yes", "b-x", "a-yes"]`, "total.rules[2]", "repeats rule a-yes"},
		{"counts the total", `["a-yes", "b-x", "b-z"]`, `["a-yes", "b-x", "high"]`, "total.rules[2]", "tests the total"},
		{"uncounted rule without domain or flag", `["a-yes", "b-x", "b-z"]`, `["b-x", "b-z"]`, "rules[0]", "needs a domain, a flag or both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(tally, tc.old, tc.new, 1)
			require.NotEqual(t, tally, src)
			_, err := Parse("tally.json", []byte(src))
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *DefinitionError
			require.True(t, errors.As(err, &de), err)
			require.Equal(t, tc.path, de.Path, err.Error())
			require.Contains(t, de.Problem, tc.problem)
		})
	}
}

// BenchmarkScorePRAPARE scores a fully answered PRAPARE response (21 items,
// three of them free entry, 23 rules, a tally of 21) into a reused Result.
// Target: no allocation.
func BenchmarkScorePRAPARE(b *testing.B) {
	in := builtin(b, "prapare")
	r := in.NewResponse()
	for id, a := range map[string][]string{
		"56051-6": {"LA33-6"}, "32624-9": {"LA6156-9", "LA4457-3"}, "93035-4": {"LA32-8"}, "93034-7": {"LA33-6"},
		"54899-0": {"LA43-5"}, "71802-3": {"LA30189-7"}, "93033-9": {"LA33-6"}, "82589-3": {"LA30192-1"},
		"67875-5": {"LA30138-4"}, "76437-3": {"LA17849-3"}, "93031-3": {"LA30125-1", "LA30129-3"},
		"93030-5": {"LA32-8"}, "93029-7": {"LA30131-9"}, "93038-8": {"LA13909-9"},
		"93028-9": {"LA32-8"}, "93027-1": {"LA32-8"}, "93026-3": {"LA33-6"}, "76501-6": {"LA32-8"},
		"63512-8": {"3"}, "56799-0": {"1200 Example Avenue, Springfield, IL 62701"}, "63586-2": {"41000"},
	} {
		if err := r.Answer(id, a...); err != nil {
			b.Fatal(err)
		}
	}
	var res Result
	r.ScoreInto(&res)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.ScoreInto(&res)
	}
}

func ExampleTotal_tally() {
	reg, _ := Builtin()
	in, _ := reg.Lookup("prapare")
	const answers = `{"answers": {
		"56051-6": "No", "32624-9": ["White"], "93035-4": "No", "93034-7": "No",
		"54899-0": "English", "71802-3": "I have housing", "93033-9": "Yes",
		"82589-3": "More than high school", "67875-5": "Full-time work", "76437-3": "Medicare",
		"93031-3": ["Food", "Phone"], "93030-5": ["No"],
		"93029-7": "3 to 5 times a week", "93038-8": "STRESS"}}`
	for _, stress := range []string{"I choose not to answer this question", "Quite a bit"} {
		r, err := ParseAnswers(in, []byte(strings.Replace(answers, "STRESS", stress, 1)))
		if err != nil {
			fmt.Println(err)
			return
		}
		res := r.Score()
		total, _ := res.Total.MarshalJSON()
		fmt.Println(string(total), res.Valid, res.Missing, res.PositiveDomains)
	}
	// Output:
	// null false [93038-8] [housing-instability food-insecurity material-hardship]
	// 4 true [] [housing-instability food-insecurity material-hardship stress]
}
