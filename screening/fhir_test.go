package screening

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func TestQuestionnaireResponse(t *testing.T) {
	in := builtin(t, "phq-9")
	data, err := os.ReadFile("testdata/phq9-qr.json")
	require.NoError(t, err)
	r, err := ParseQuestionnaireResponse(in, data)
	require.NoError(t, err)
	res := r.Score()
	require.True(t, res.Valid)
	require.Equal(t, Score{Value: 8, Set: true}, res.Total)
	require.Equal(t, "mild", res.Band)
	require.Equal(t, []string{"self-harm-risk"}, res.Flags)

	obs := r.Observations(&res, ObservationOptions{Prefix: "obs", Subject: "Patient/p1", At: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)})
	require.Len(t, obs, 10)
	first := obs[0]
	require.Equal(t, "Observation", first.ResourceType)
	require.Equal(t, "44250-9", first.Code.Coding[0].Code)
	require.Equal(t, "LA6569-3", first.ValueCodeableConcept.Coding[0].Code)
	require.Equal(t, "mental-health", first.Category[1].Coding[0].Code)
	require.Equal(t, referral.SystemRefkit, first.Category[1].Coding[0].System)
	panel := obs[9]
	require.Equal(t, "44249-1", panel.Code.Coding[0].Code)
	require.Equal(t, "44261-6", panel.Code.Coding[1].Code)
	require.Equal(t, 8, *panel.ValueInteger)
	require.Len(t, panel.HasMember, 9)
	require.Equal(t, "POS", panel.Interpretation[0].Coding[0].Code)
	out, err := json.Marshal(obs)
	require.NoError(t, err)
	require.Contains(t, string(out), `"effectiveDateTime":"2025-03-01T09:00:00Z"`)
}

func TestObservationsMultipleAndDeclined(t *testing.T) {
	in := builtin(t, "ahc-hrsn")
	a := ahcNegative()
	a["96778-6"] = []string{"Mold", "Water leaks"}
	a["93038-8"] = "LA30122-8"
	r := parse(t, in, a)
	res := r.Score()
	obs := r.Observations(&res, ObservationOptions{Prefix: "o", Subject: "", At: time.Unix(0, 0)})
	var housing, declined int
	for _, o := range obs {
		if o.Code.Coding[0].Code == "96778-6" {
			housing++
			require.Equal(t, SystemUSCoreCategory, o.Category[1].Coding[0].System, "an SDOH instrument's Observations are sdoh")
			require.Equal(t, referral.SystemSDOHCC, o.Category[2].Coding[0].System)
		}
		if o.DataAbsentReason != nil {
			declined++
			require.Equal(t, "asked-declined", o.DataAbsentReason.Coding[0].Code)
		}
		require.Nil(t, o.Subject)
	}
	require.Equal(t, 2, housing)
	require.Equal(t, 1, declined)
	require.Equal(t, "inadequate-housing", obs[len(obs)-1].Category[2].Coding[0].Code)
}

func TestQuestionnaireResponseErrors(t *testing.T) {
	in := builtin(t, "phq-9")
	for _, tc := range []struct {
		name, body, field string
	}{
		{"not json", `{`, "questionnaireResponse"},
		{"wrong resource", `{"resourceType":"Observation"}`, "resourceType"},
		{"unknown item", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/1-8","answer":[{"valueInteger":1}]}]}`, "answers.1-8"},
		{"bad code", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[{"valueCoding":{"code":"LA9-3"}}]}]}`, "answers.44250-9"},
		{"duplicate", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[{"valueInteger":1}]},{"linkId":"44250-9","answer":[{"valueInteger":1}]}]}`, "answers.44250-9"},
		{"empty answer", `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44250-9","answer":[{}]}]}`, "answers.44250-9"},
		{"too deep", `{"resourceType":"QuestionnaireResponse","item":[` + strings.Repeat(`{"linkId":"g","item":[`, 12) + strings.Repeat(`]}`, 12) + `]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseQuestionnaireResponse(in, []byte(tc.body))
			require.Nil(t, r)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			if tc.field != "" {
				require.Equal(t, tc.field, ve.Field)
			}
		})
	}
}

// TestObservationsLabelLocalCodes: LOINC-shaped codes are labelled LOINC, a
// host's own codes and panel the instrument's system (or the default URN),
// so no local code is ever passed off as LOINC.
func TestObservationsLabelLocalCodes(t *testing.T) {
	def := func(system string) string {
		return `{"id":"clinic-check","version":"1","title":"Clinic check"` + system + `,
			"items":[
				{"id":"88122-7","key":"food","text":"Food ran out?","type":"choice","options":[{"code":"LA28397-0","display":"Often true","value":1},{"code":"never","display":"Never","value":0}]},
				{"id":"cc-rides","key":"rides","text":"Need rides?","type":"choice","options":[{"code":"yes","display":"Yes","value":1},{"code":"LA32-8","display":"No","value":0}]}],
			"total":{"items":["88122-7","cc-rides"]}}`
	}
	tests := []struct {
		name, system, want string
	}{
		{"own system", `,"system":"https://clinic.example.org/codes"`, "https://clinic.example.org/codes"},
		{"default", "", LocalSystemPrefix + "clinic-check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Parse("clinic.json", []byte(def(tt.system)))
			require.NoError(t, err)
			r := in.NewResponse()
			require.NoError(t, r.Answer("88122-7", "never"))
			require.NoError(t, r.Answer("cc-rides", "LA32-8"))
			res := r.Score()
			obs := r.Observations(&res, ObservationOptions{Prefix: "o", Subject: "", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
			require.Len(t, obs, 3, "two items and the panel")
			systems := func(o Observation) [2]string {
				return [2]string{o.Code.Coding[0].System, o.ValueCodeableConcept.Coding[0].System}
			}
			require.Equal(t, [2]string{SystemLOINC, tt.want}, systems(obs[0]), "LOINC item, local answer")
			require.Equal(t, [2]string{tt.want, SystemLOINC}, systems(obs[1]), "local item, LOINC answer")
			panel := obs[2]
			require.Equal(t, Coding{System: tt.want, Code: "clinic-check", Display: "Clinic check"}, panel.Code.Coding[0])
			require.NotNil(t, panel.ValueInteger)
			require.Equal(t, 0, *panel.ValueInteger)
			require.Len(t, panel.HasMember, 2)
		})
	}
}

func TestParseRejectsBadSystem(t *testing.T) {
	for _, system := range []string{"clinic-codes", "http://loinc.org", "/relative/path", "https://" + strings.Repeat("x", 300)} {
		t.Run(system[:min(len(system), 20)], func(t *testing.T) {
			_, err := Parse("x.json", []byte(`{"id":"x","version":"1","title":"X","system":"`+system+`",
				"items":[{"id":"q","key":"q","text":"Q?","type":"choice","options":[{"code":"y","display":"Yes","value":1}]}]}`))
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.ErrorContains(t, err, "system")
		})
	}
}
