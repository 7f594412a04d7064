package screening

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// categoryCodes lists the codes of an Observation's categories.
func categoryCodes(o Observation) []string {
	var out []string
	for _, c := range o.Category {
		for _, cd := range c.Coding {
			out = append(out, cd.Code)
		}
	}
	return out
}

// TestIGQuestionnaireResponses parses QuestionnaireResponses shaped as the
// SDOH Clinical Care IG's examples (testdata/ig/README.md names the source of
// each) and checks they score as the IG says: the domains its example
// Observations categorise, the derived risk its example answers.
func TestIGQuestionnaireResponses(t *testing.T) {
	at := time.Date(2025, 6, 3, 15, 20, 0, 0, time.UTC)
	tests := []struct {
		file, instrument string
		// positive are the domains the IG's examples show as found; refkit
		// may find more.
		positive []referral.Domain
		// observations maps item codes to the value code and SDOH category
		// the IG's example Observation of that item has.
		observations map[string][2]string
	}{
		// SDOHCC-QuestionnaireResponseHungerVitalSignExample.fsh, and its
		// derived Observation SDOHCC-ObservationResponseHungerVitalSignQuestion3Example.fsh.
		{"hunger-vital-sign-qr.json", "hunger-vital-sign", []referral.Domain{referral.FoodInsecurity},
			map[string][2]string{"88124-3": {"LA19952-3", "food-insecurity"}, "88122-7": {"LA28397-0", "food-insecurity"}}},
		// SDOHCC-QuestionnaireResponsePRAPAREExample.fsh, and the Observations
		// SDOHCC-ObservationResponsePRAPARE{HousingStatus,EmploymentStatus,
		// ChildCareNeed,ClothingNeed}Example.fsh derived from it.
		{"prapare-qr.json", "prapare", []referral.Domain{referral.Homelessness, referral.EmploymentStatus, referral.MaterialHardship},
			map[string][2]string{"71802-3": {"LA30190-5", "homelessness"}, "67875-5": {"LA17956-6", "employment-status"}}},
		// No IG example: the AHC HRSN core questions by their LOINC codes.
		{"ahc-hrsn-qr.json", "ahc-hrsn", []referral.Domain{referral.HousingInstability, referral.InadequateHousing, referral.FoodInsecurity, referral.UtilityInsecurity},
			map[string][2]string{"71802-3": {"LA31994-9", "housing-instability"}, "96779-4": {"LA33-6", "utility-insecurity"}}},
	}
	for _, tc := range tests {
		t.Run(tc.instrument, func(t *testing.T) {
			in := builtin(t, tc.instrument)
			data, err := os.ReadFile("testdata/ig/" + tc.file)
			require.NoError(t, err)
			r, err := ParseQuestionnaireResponse(in, data)
			require.NoError(t, err)
			res := r.Score()
			for _, d := range tc.positive {
				require.Contains(t, res.PositiveDomains, d)
			}

			obs := r.Observations(&res, ObservationOptions{Prefix: "o", Subject: "Patient/example", At: at, Source: "QuestionnaireResponse/qr"})
			byCode := map[string][]Observation{}
			for _, o := range obs {
				byCode[o.Code.Coding[0].Code] = append(byCode[o.Code.Coding[0].Code], o)
				// SDOH-Obs-4 and the profile's slices: survey, sdoh, and the
				// profile claimed; derived from the QuestionnaireResponse.
				require.Equal(t, []string{ProfileScreeningResponse}, o.Meta.Profile, o.ID)
				codes := categoryCodes(o)
				require.Equal(t, []string{"survey", "sdoh"}, codes[:2], o.ID)
				require.Equal(t, "QuestionnaireResponse/qr", o.DerivedFrom[0].Reference, o.ID)
			}
			for code, want := range tc.observations {
				require.NotEmpty(t, byCode[code], code)
				o := byCode[code][0]
				require.Equal(t, want[0], o.ValueCodeableConcept.Coding[0].Code, code)
				require.Contains(t, categoryCodes(o), want[1], code)
			}
			if tc.instrument == "prapare" {
				// The IG's example has one Observation per material need.
				var needs []string
				for _, o := range byCode["93031-3"] {
					require.Contains(t, categoryCodes(o), "material-hardship")
					needs = append(needs, o.ValueCodeableConcept.Coding[0].Code)
				}
				require.Equal(t, []string{"LA30126-9", "LA30127-7"}, needs)
			}

			// Rendered back as a QuestionnaireResponse, the answers read the same.
			qr := r.QuestionnaireResponse(&res, QuestionnaireResponseOptions{ID: "qr", Subject: "Patient/example", At: at})
			require.Equal(t, in.Questionnaire(), qr.Questionnaire)
			out, err := json.Marshal(qr)
			require.NoError(t, err)
			again, err := ParseQuestionnaireResponse(in, out)
			require.NoError(t, err)
			require.Equal(t, res, again.Score())
		})
	}
}

// TestComputedItems: a QuestionnaireResponse may carry the items scoring
// computes (a total, a derived item); each is checked against the answers, and
// a mismatch names the item, never a value.
func TestComputedItems(t *testing.T) {
	hvs := func(worry, ranOut, risk string) string {
		item := func(link, code string) string {
			if code == "" {
				return ""
			}
			return `,{"linkId":"` + link + `","answer":[{"valueCoding":{"system":"http://loinc.org","code":"` + code + `"}}]}`
		}
		return `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"g"}` +
			item("/88122-7", worry) + item("/88123-5", ranOut) + item("/88124-3", risk) + `]}`
	}
	phq2 := func(total string) string {
		return `{"resourceType":"QuestionnaireResponse","item":[
		  {"linkId":"/44250-9","answer":[{"valueCoding":{"code":"LA6569-3"}}]},
		  {"linkId":"/44255-8","answer":[{"valueCoding":{"code":"LA6570-1"}}]},
		  {"linkId":"/55758-7","answer":[` + total + `]}]}`
	}
	tests := []struct {
		name, instrument, body, err string
	}{
		{"at risk, as the answers say", "hunger-vital-sign", hvs("LA28397-0", "LA28398-8", "LA19952-3"), ""},
		{"no risk, as the answers say", "hunger-vital-sign", hvs("LA28398-8", "LA28398-8", "LA19983-8"), ""},
		{"risk given as its display", "hunger-vital-sign", strings.Replace(hvs("LA6729-3", "LA28398-8", "x"), `{"valueCoding":{"system":"http://loinc.org","code":"x"}}`, `{"valueString":"At risk"}`, 1), ""},
		{"no risk when refused, as the IG's form computes", "hunger-vital-sign", hvs("LA15775-2", "LA28398-8", "LA19983-8"), ""},
		{"risk the answers do not give", "hunger-vital-sign", hvs("LA28398-8", "LA28398-8", "LA19952-3"), "answers.88124-3 does not match"},
		{"no risk where the answers find one", "hunger-vital-sign", hvs("LA6729-3", "LA28398-8", "LA19983-8"), "answers.88124-3 does not match"},
		{"risk without the questions", "hunger-vital-sign", hvs("", "", "LA19952-3"), "answers.88124-3 does not match"},
		{"risk that is no option", "hunger-vital-sign", hvs("LA6729-3", "LA28398-8", "LA6729-3"), "answers.88124-3 is not one of the item's options"},
		{"risk answered twice", "hunger-vital-sign", strings.Replace(hvs("LA6729-3", "LA28398-8", "LA19952-3"), `]}`, `]},{"linkId":"/88124-3","answer":[{"valueCoding":{"code":"LA19952-3"}}]}`, 1), "answers.88124-3 is answered more than once"},
		{"risk with two answers", "hunger-vital-sign", strings.Replace(hvs("LA6729-3", "LA28398-8", "LA19952-3"), `"LA19952-3"}}]`, `"LA19952-3"}},{"valueCoding":{"code":"LA19983-8"}}]`, 1), "answers.88124-3 takes one answer"},
		{"total as the answers give", "phq-2", phq2(`{"valueInteger":3}`), ""},
		{"total as a whole decimal", "phq-2", phq2(`{"valueDecimal":3.0}`), ""},
		{"total off by one", "phq-2", phq2(`{"valueInteger":4}`), "answers.55758-7 does not match the total"},
		{"total with a fraction", "phq-2", phq2(`{"valueDecimal":3.5}`), "answers.55758-7 must be a whole number"},
		{"total as text", "phq-2", phq2(`{"valueString":"3"}`), "answers.55758-7 must be a number"},
		{"total without its items", "phq-2", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/55758-7","answer":[{"valueInteger":0}]}]}`, "answers.55758-7 does not match the total"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseQuestionnaireResponse(builtin(t, tc.instrument), []byte(tc.body))
			if tc.err == "" {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.ErrorContains(t, err, tc.err)
			for _, value := range []string{"LA19952-3", "LA19983-8", "At risk", "3.5"} {
				require.NotContains(t, err.Error(), value, "an error never quotes an answer")
			}
		})
	}
}

// TestQuestionnaireResponseBounds: hostile documents are refused with
// ErrInvalid at a cost bounded by the size limit.
func TestQuestionnaireResponseBounds(t *testing.T) {
	in := builtin(t, "phq-9")
	many := `{"resourceType":"QuestionnaireResponse","item":[` + strings.Repeat(`{"linkId":"g"},`, maxQRItems) + `{"linkId":"g"}]}`
	tests := []struct {
		name, field string
		body        []byte
	}{
		{"larger than 4 MiB", "questionnaireResponse", append([]byte(`{"resourceType":"QuestionnaireResponse","item":[],"x":"`), append(bytes.Repeat([]byte("a"), questionnaireLimits.Bytes), '"', '}')...)},
		{"invalid UTF-8", "questionnaireResponse", []byte("{\"resourceType\":\"QuestionnaireResponse\",\"item\":[{\"linkId\":\"/44250-9\",\"text\":\"\xff\"}]}")},
		{"deeper than the JSON decoder goes", "questionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse","item":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`)},
		{"groups nested too deep", strings.Repeat("item[0].", 11) + "item", []byte(`{"resourceType":"QuestionnaireResponse","item":[` + strings.Repeat(`{"linkId":"g","item":[`, 12) + strings.Repeat(`]}`, 12) + `]}`)},
		{"too many items", "questionnaireResponse", []byte(many)},
		{"NaN", "questionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[{"valueDecimal":NaN}]}]}`)},
		{"a number too large", "answers.44250-9", []byte(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[{"valueDecimal":1e400}]}]}`)},
		{"too many answers", "answers.44250-9", []byte(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[` + strings.Repeat(`{"valueInteger":1},`, maxOptions) + `{"valueInteger":1}]}]}`)},
		{"two documents", "questionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse"} {}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseQuestionnaireResponse(in, tc.body)
			require.Nil(t, r)
			requireInvalid(t, err, tc.field)
		})
	}
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, referral.ErrInvalid)
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field)
}

// TestObservationProfiles: an SDOH instrument's LOINC-coded Observations are
// the IG's screening responses; other instruments' and local codes claim US
// Core's screening assessment, without the sdoh category unless the
// instrument screens for SDOH.
func TestObservationProfiles(t *testing.T) {
	local, err := Parse("clinic.json", []byte(`{"id":"clinic-check","version":"1","title":"Clinic check",
		"items":[{"id":"cc-food","key":"food","text":"Food ran out?","domain":"food-insecurity","options":[{"code":"yes","display":"Yes"},{"code":"no","display":"No"}]}],
		"rules":[{"id":"food","domain":"food-insecurity","urgency":"routine","answers":[{"item":"cc-food","codes":["yes"]}]}]}`))
	require.NoError(t, err)
	tests := []struct {
		name    string
		in      *Instrument
		answers map[string]any
		profile string
		sdoh    bool
	}{
		{"SDOH instrument, LOINC codes", builtin(t, "hunger-vital-sign"), map[string]any{"88122-7": "Often true", "88123-5": "Never true"}, ProfileScreeningResponse, true},
		{"mental health instrument", builtin(t, "phq-2"), map[string]any{"44250-9": 1, "44255-8": 0}, ProfileScreeningAssessment, false},
		{"SDOH instrument, local codes", local, map[string]any{"cc-food": "yes"}, ProfileScreeningAssessment, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := parse(t, tc.in, tc.answers)
			res := r.Score()
			for _, o := range r.Observations(&res, ObservationOptions{Prefix: "o", Subject: "Patient/1", At: time.Unix(0, 0)}) {
				require.Equal(t, []string{tc.profile}, o.Meta.Profile, o.Code.Coding[0].Code)
				require.Equal(t, tc.sdoh, slices.Contains(categoryCodes(o), "sdoh"), o.Code.Coding[0].Code)
				for _, d := range o.DerivedFrom {
					require.True(t, strings.HasPrefix(d.Reference, "Observation/"), "no source given: only a derived item's own sources")
				}
			}
		})
	}
}

// TestQuestionnaireResponseKeep: a kept subset of items renders, and reads
// back, on its own; a derived item goes with its domain's items.
func TestQuestionnaireResponseKeep(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	data, err := os.ReadFile("testdata/ig/ahc-hrsn-qr.json")
	require.NoError(t, err)
	r, err := ParseQuestionnaireResponse(in, data)
	require.NoError(t, err)
	res := r.Score()
	qr := r.QuestionnaireResponse(&res, QuestionnaireResponseOptions{ID: "qr", At: time.Unix(0, 0),
		Keep: func(it *Item) bool { return it.Domain == referral.FoodInsecurity }})
	var links []string
	for _, it := range qr.Item {
		links = append(links, it.LinkID)
	}
	require.Equal(t, []string{"/88122-7", "/88123-5"}, links)
	require.Equal(t, []string{ProfileQuestionnaireResponse}, qr.Meta.Profile)
	require.Nil(t, qr.Subject)

	hvs := builtin(t, "hunger-vital-sign")
	r = parse(t, hvs, map[string]any{"88122-7": "Often true", "88123-5": "Never true"})
	res = r.Score()
	qr = r.QuestionnaireResponse(&res, QuestionnaireResponseOptions{ID: "qr", At: time.Unix(0, 0),
		Keep: func(it *Item) bool { return it.ID == "88122-7" }})
	require.Len(t, qr.Item, 2, "the kept question and the risk derived from its domain")
	require.Equal(t, "/88124-3", qr.Item[1].LinkID)
	qr = r.QuestionnaireResponse(&res, QuestionnaireResponseOptions{ID: "qr", At: time.Unix(0, 0),
		Keep: func(*Item) bool { return false }})
	require.Empty(t, qr.Item)
}
