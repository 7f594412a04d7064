package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func screen(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"screen"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScreenCommand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"phq-9 self-harm", []string{"--instrument", "phq-9"},
			`{"answers":{"44250-9":0,"44255-8":0,"44259-0":0,"44254-1":0,"44251-7":0,"44258-2":0,"44252-5":0,"44253-3":0,"44260-8":"LA6569-3"}}`,
			`{"instrument":"phq-9","total":1,"band":"none-minimal","valid":true,"missing":[],"positive_domains":["mental-health"],"flags":["self-harm-risk"],"needs":[{"domain":"mental-health","urgency":"emergent"}]}`},
		{"ahc negative has no needs", []string{"--instrument", "ahc-hrsn"},
			`{"answers":{"71802-3":"I have a steady place to live","96778-6":["LA9-3"],"88122-7":"never true","88123-5":"Never true","93030-5":"No","96779-4":"No","95618-5":1,"95617-7":1,"95616-9":1,"95615-1":"LA6270-8"}}`,
			`{"instrument":"ahc-hrsn","total":null,"band":"","valid":true,"missing":[],"positive_domains":[],"flags":[],"needs":[]}`},
		{"missing item", []string{"--instrument", "gad-7"}, `{"answers":{"69725-0":3}}`,
			`{"instrument":"gad-7","total":null,"band":"","valid":false,"missing":["68509-9","69733-4","69734-2","69735-9","69689-8","69736-7"],"positive_domains":[],"flags":[],"needs":[]}`},
		{"fhir", []string{"--instrument", "hunger-vital-sign", "--fhir"},
			`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/88122-7","answer":[{"valueCoding":{"code":"LA6729-3"}}]},{"linkId":"/88123-5","answer":[{"valueString":"Never true"}]}]}`,
			`{"instrument":"hunger-vital-sign","total":null,"band":"","valid":true,"missing":[],"positive_domains":["food-insecurity"],"flags":[],"needs":[{"domain":"food-insecurity","urgency":"routine"}]}`},
		{"prapare with numeric and text answers", []string{"--instrument", "prapare"},
			`{"answers":{"56051-6":"No","32624-9":["White"],"93035-4":"No","93034-7":"No","54899-0":"English",
			"63512-8":4,"71802-3":"I have housing","93033-9":"No","56799-0":"1200 Example Avenue, Springfield, IL 62701",
			"82589-3":"More than high school","67875-5":"Full-time work","76437-3":"Medicaid","63586-2":18500,
			"93031-3":["Food"],"93030-5":["No"],"93029-7":"3 to 5 times a week","93038-8":"Not at all"}}`,
			`{"instrument":"prapare","total":1,"band":"","valid":true,"missing":[],"positive_domains":["food-insecurity"],"flags":[],"needs":[{"domain":"food-insecurity","urgency":"routine"}]}`},
		{"prapare fhir free entry", []string{"--instrument", "prapare", "--fhir"},
			`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/93042-0","item":[
			{"linkId":"/93042-0/63512-8","answer":[{"valueInteger":3}]},
			{"linkId":"/93042-0/56799-0","answer":[{"valueString":"1200 Example Avenue"}]}]},
			{"linkId":"/93041-2/63586-2","answer":[{"valueDecimal":41000.0}]},
			{"linkId":"/93041-2/67875-5","answer":[{"valueCoding":{"code":"LA17956-6"}}]}]}`,
			`{"instrument":"prapare","total":null,"band":"","valid":false,
			"missing":["56051-6","32624-9","93035-4","93034-7","54899-0","71802-3","93033-9","82589-3","76437-3","93031-3","93030-5","93029-7","93038-8"],
			"positive_domains":["employment-status"],"flags":[],"needs":[{"domain":"employment-status","urgency":"routine"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := screen(t, tc.stdin, tc.args...)
			require.Equal(t, 0, code, errOut)
			require.JSONEq(t, tc.want, out)
			require.NotContains(t, out, "Example Avenue", "text answers are personal data")
		})
	}
}

func TestScreenFromFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "in.json")
	require.NoError(t, os.WriteFile(name, []byte(`{"answers":{"44250-9":"Nearly every day","44255-8":0}}`), 0o600))
	code, out, _ := screen(t, "", "--instrument", "phq-2", "--in", name)
	require.Equal(t, 0, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, 3.0, got["total"])
	require.Equal(t, "positive", got["band"])
}

func TestScreenList(t *testing.T) {
	code, out, _ := screen(t, "", "--list")
	require.Equal(t, 0, code)
	var list []struct {
		ID    string `json:"id"`
		Items []struct {
			ID      string `json:"id"`
			Options []struct {
				Code string `json:"code"`
			} `json:"options"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 6)
	require.Equal(t, "ahc-hrsn", list[0].ID)
	require.Equal(t, "71802-3", list[0].Items[0].ID)
	require.Equal(t, "LA31993-1", list[0].Items[0].Options[0].Code)

	var free []struct {
		ID    string `json:"id"`
		Items []struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Min       *int   `json:"min"`
			MaxLength int    `json:"max_length"`
			Options   []any  `json:"options"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &free))
	require.Equal(t, "prapare", free[5].ID)
	types := map[string]string{}
	for _, it := range free[5].Items {
		if it.Type != "" {
			types[it.ID] = it.Type
			require.Empty(t, it.Options, it.ID)
		}
	}
	require.Equal(t, map[string]string{"63512-8": "integer", "56799-0": "text", "63586-2": "integer"}, types)
}

func TestScreenErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"unknown instrument", []string{"--instrument", "nope"}, `{}`, "unknown instrument"},
		{"no instrument", nil, `{}`, "--instrument is required"},
		{"not an option", []string{"--instrument", "phq-9"}, `{"answers":{"44250-9":"LA9-3"}}`, "answers.44250-9 is not one of the item's options"},
		{"out of range", []string{"--instrument", "ahc-hrsn"}, `{"answers":{"95618-5":6}}`, "answers.95618-5 has a value out of the item's range"},
		{"unknown item", []string{"--instrument", "phq-2"}, `{"answers":{"44260-8":1}}`, "answers.44260-8 is not an item"},
		{"duplicate", []string{"--instrument", "phq-2"}, `{"answers":{"44250-9":1,"44250-9":1}}`, "answers.44250-9 is answered more than once"},
		{"missing file", []string{"--instrument", "phq-2", "--in", "/nonexistent/x.json"}, ``, "reading --in"},
		{"bad fhir", []string{"--instrument", "phq-2", "--fhir"}, `{"resourceType":"Patient"}`, "resourceType must be QuestionnaireResponse"},
		{"text for a count", []string{"--instrument", "prapare"}, `{"answers":{"63512-8":"four people"}}`, "answers.63512-8 must be a number"},
		{"count out of range", []string{"--instrument", "prapare"}, `{"answers":{"household-size":140}}`, "answers.63512-8 has a value out of the item's range 1 to 99"},
		{"income with cents", []string{"--instrument", "prapare"}, `{"answers":{"63586-2":18500.25}}`, "answers.63586-2 must be a whole number"},
		{"address with control characters", []string{"--instrument", "prapare"}, `{"answers":{"56799-0":"Secret Road\u0007"}}`, "answers.56799-0 contains control characters"},
		{"fhir string for income", []string{"--instrument", "prapare", "--fhir"},
			`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/63586-2","answer":[{"valueString":"18500"}]}]}`, "answers.63586-2 must be a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := screen(t, tc.stdin, tc.args...)
			require.Equal(t, 1, code)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.want)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			for _, secret := range []string{"four", "140", "18500", "Secret"} {
				require.NotContains(t, errOut, secret, "the answer given is personal data")
			}
		})
	}
}
