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
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := screen(t, tc.stdin, tc.args...)
			require.Equal(t, 0, code, errOut)
			require.JSONEq(t, tc.want, out)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := screen(t, tc.stdin, tc.args...)
			require.Equal(t, 1, code)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.want)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}
