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

	obs := r.Observations(&res, "obs", "Patient/p1", time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
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
	obs := r.Observations(&res, "o", "", time.Unix(0, 0))
	var housing, declined int
	for _, o := range obs {
		if o.Code.Coding[0].Code == "96778-6" {
			housing++
			require.Equal(t, referral.SystemSDOHCC, o.Category[1].Coding[0].System)
		}
		if o.DataAbsentReason != nil {
			declined++
			require.Equal(t, "asked-declined", o.DataAbsentReason.Coding[0].Code)
		}
		require.Nil(t, o.Subject)
	}
	require.Equal(t, 2, housing)
	require.Equal(t, 1, declined)
	require.Equal(t, "inadequate-housing", obs[len(obs)-1].Category[1].Coding[0].Code)
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
