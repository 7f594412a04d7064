package screening

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// address is a text answer distinctive enough that finding it in any output
// means it leaked.
const address = "1200 Example Avenue, Apt 3, Springfield, IL 62701"

// household is a custom instrument reading integer items in rules: a sum, an
// expression and a total.
const household = `{
  "id": "household", "version": "1", "title": "Household",
  "items": [
    {"id": "size", "key": "size", "text": "How many people live with you?", "type": "integer", "min": 1, "max": 20},
    {"id": "bedrooms", "key": "bedrooms", "text": "How many bedrooms?", "type": "integer", "min": 0, "max": 10},
    {"id": "addr", "key": "addr", "text": "Address?", "type": "text", "max_length": 80},
    {"id": "safe", "key": "safe", "text": "Safe?", "options": [{"code": "y", "display": "Yes", "value": 0}, {"code": "n", "display": "No", "value": 1}]}
  ],
  "total": {"items": ["size", "safe"]},
  "rules": [
    {"id": "crowded", "domain": "inadequate-housing", "urgency": "routine", "expr": "item(\"size\") > 2 * item(\"bedrooms\")"},
    {"id": "large", "flag": "large-household", "urgency": "routine", "sum": {"items": ["size"], "at_least": 8}}
  ]
}`

func TestIntegerItemsInRules(t *testing.T) {
	in, err := Parse("household.json", []byte(household))
	require.NoError(t, err)
	for _, tc := range []struct {
		name          string
		answers       map[string]any
		total         Score
		domains       []referral.Domain
		flags         []string
		indeterminate []string
	}{
		{"roomy", map[string]any{"size": 3, "bedrooms": 2, "safe": "y"}, Score{Value: 3, Set: true}, nil, nil, nil},
		{"crowded at the boundary", map[string]any{"size": 5, "bedrooms": 2, "safe": "n"}, Score{Value: 6, Set: true},
			[]referral.Domain{referral.InadequateHousing}, nil, nil},
		{"not crowded at the boundary", map[string]any{"size": 4, "bedrooms": 2, "safe": "y"}, Score{Value: 4, Set: true}, nil, nil, nil},
		{"large and crowded", map[string]any{"size": 8, "bedrooms": 0, "safe": "y"}, Score{Value: 8, Set: true},
			[]referral.Domain{referral.InadequateHousing}, []string{"large-household"}, nil},
		{"seven is not large", map[string]any{"size": 7, "bedrooms": 4, "safe": "y"}, Score{Value: 7, Set: true}, nil, nil, nil},
		{"bedrooms missing", map[string]any{"size": 9, "safe": "y"}, Score{Value: 9, Set: true}, nil, []string{"large-household"}, []string{"crowded"}},
		{"size missing", map[string]any{"bedrooms": 1, "addr": "x"}, Score{}, nil, nil, []string{"crowded", "large"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, in, tc.answers).Score()
			require.Equal(t, tc.total, res.Total)
			require.Equal(t, append([]referral.Domain{}, tc.domains...), res.PositiveDomains)
			require.Equal(t, append([]string{}, tc.flags...), res.Flags)
			require.Equal(t, append([]string{}, tc.indeterminate...), res.Indeterminate)
			require.True(t, res.Valid, "no item is required")
		})
	}
	t.Run("whole numbers written as decimals", func(t *testing.T) {
		r, err := ParseAnswers(in, []byte(`{"answers":{"size":3.0,"bedrooms":1e0,"safe":"y"}}`))
		require.NoError(t, err)
		res := r.Score()
		require.Equal(t, Score{Value: 3, Set: true}, res.Total)
		require.Equal(t, []referral.Domain{referral.InadequateHousing}, res.PositiveDomains)
	})
}

func TestFreeEntryItemDetail(t *testing.T) {
	in := builtin(t, "prapare")
	a := prapareNoRisk()
	a["63512-8"], a["56799-0"], a["63586-2"] = 4, address, 18500
	r := parse(t, in, a)
	res := r.Score()
	require.True(t, res.Valid)
	require.Equal(t, Score{Value: 0, Set: true}, res.Total, "free-entry items are outside the tally")

	byID := map[string]ItemResult{}
	for _, ir := range res.Items {
		byID[ir.ID] = ir
	}
	require.Equal(t, ItemResult{ID: "63512-8", Key: "household-size", Status: StatusAnswered, Value: Score{Value: 4, Set: true}}, byID["63512-8"])
	require.Equal(t, ItemResult{ID: "63586-2", Key: "income", Status: StatusAnswered, Value: Score{Value: 18500, Set: true}}, byID["63586-2"])
	require.Equal(t, ItemResult{ID: "56799-0", Key: "address", Status: StatusAnswered}, byID["56799-0"])

	out, err := json.Marshal(res)
	require.NoError(t, err)
	require.NotContains(t, string(out), "Example Avenue", "the address is personal data")
	require.Contains(t, string(out), `{"id":"56799-0","key":"address","status":"answered","value":null}`)

	ids := referral.NewIDGenerator(func() time.Time { return time.Unix(1700000000, 0) }, zeroReader{})
	s := res.Screening(ids.MustNew(), ids.MustNew(), ids.MustNew(), time.Unix(1700000000, 0).UTC())
	require.NoError(t, s.Validate())
	require.Equal(t, []string{"4"}, s.Answers["63512-8"])
	require.Equal(t, []string{"18500"}, s.Answers["63586-2"])
	require.NotContains(t, s.Answers, "56799-0")

	t.Run("declined and reset", func(t *testing.T) {
		r := parse(t, in, prapareNoRisk())
		require.NoError(t, r.Decline("income"))
		require.NoError(t, r.Answer("address", address))
		res := r.Score()
		require.True(t, res.Valid, "an optional item declined does not invalidate the screen")
		require.Equal(t, []string{"63586-2"}, res.Missing)
		r.Reset()
		require.Equal(t, make([]string, len(in.Items)), r.texts, "Reset drops the text it held")
	})
}

// TestFreeEntryAnswerErrors covers every way a free-entry answer is refused,
// through JSON answers, FHIR and the Go API: each error names the item and
// never carries the value given.
func TestFreeEntryAnswerErrors(t *testing.T) {
	in := builtin(t, "prapare")
	qr := func(linkID, answer string) string {
		return `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"` + linkID + `","answer":[` + answer + `]}]}`
	}
	for _, tc := range []struct {
		name    string
		parse   func() error
		field   string
		problem string
		secret  string // must not appear in the error
	}{
		{"below min", jsonAnswers(in, `{"63512-8":0}`), "answers.63512-8", "out of the item's range 1 to 99", ""},
		{"above max", jsonAnswers(in, `{"63512-8":100}`), "answers.63512-8", "out of the item's range 1 to 99", "100"},
		{"negative income", jsonAnswers(in, `{"income":-250}`), "answers.63586-2", "out of the item's range 0 to 1000000000", "250"},
		{"over the engine limit", jsonAnswers(in, `{"63586-2":1000000001}`), "answers.63586-2", "out of the item's range", "1000000001"},
		{"huge number", jsonAnswers(in, `{"63586-2":1e300}`), "answers.63586-2", "out of the item's range", "1e300"},
		{"fraction", jsonAnswers(in, `{"63512-8":2.5}`), "answers.63512-8", "must be a whole number", "2.5"},
		{"cents", jsonAnswers(in, `{"63586-2":18500.75}`), "answers.63586-2", "must be a whole number", "18500"},
		{"string for integer", jsonAnswers(in, `{"63512-8":"4"}`), "answers.63512-8", "must be a number", ""},
		{"array for integer", jsonAnswers(in, `{"63512-8":[4]}`), "answers.63512-8", "must be a number", ""},
		{"object for integer", jsonAnswers(in, `{"63512-8":{"n":4}}`), "answers.63512-8", "must be a number", ""},
		{"number for text", jsonAnswers(in, `{"56799-0":62701}`), "answers.56799-0", "must be text", "62701"},
		{"boolean for text", jsonAnswers(in, `{"56799-0":true}`), "answers.56799-0", "must be text", ""},
		{"blank text", jsonAnswers(in, `{"56799-0":"   "}`), "answers.56799-0", "has no answer", ""},
		{"text too long", jsonAnswers(in, `{"56799-0":"`+strings.Repeat("Ave ", 126)+`"}`), "answers.56799-0", "longer than 500 characters", "Ave"},
		{"text with a NUL", jsonAnswers(in, `{"address":"12 Secret Road\u0000"}`), "answers.56799-0", "control characters", "Secret"},
		{"text with an escape", jsonAnswers(in, `{"56799-0":"12 Secret Road\u001b[2J"}`), "answers.56799-0", "control characters", "Secret"},
		{"text with a C1 control", jsonAnswers(in, `{"56799-0":"12 Secret Road\u0085"}`), "answers.56799-0", "control characters", "Secret"},
		{"answered twice", jsonAnswers(in, `{"63512-8":3,"household-size":3}`), "answers.63512-8", "answered more than once", ""},
		{"fhir string for integer", fhirAnswers(in, qr("/93042-0/63512-8", `{"valueString":"4"}`)), "answers.63512-8", "must be a number", ""},
		{"fhir coding for integer", fhirAnswers(in, qr("63512-8", `{"valueCoding":{"code":"LA33-6"}}`)), "answers.63512-8", "must be a number", ""},
		{"fhir decimal fraction", fhirAnswers(in, qr("/63512-8", `{"valueDecimal":3.5}`)), "answers.63512-8", "must be a whole number", "3.5"},
		{"fhir integer out of range", fhirAnswers(in, qr("/63512-8", `{"valueInteger":0}`)), "answers.63512-8", "out of the item's range 1 to 99", ""},
		{"fhir negative income", fhirAnswers(in, qr("/93041-2/63586-2", `{"valueDecimal":-1.0}`)), "answers.63586-2", "out of the item's range", ""},
		{"fhir two answers", fhirAnswers(in, qr("/63586-2", `{"valueInteger":1},{"valueInteger":2}`)), "answers.63586-2", "takes one answer", ""},
		{"fhir integer for text", fhirAnswers(in, qr("/56799-0", `{"valueInteger":62701}`)), "answers.56799-0", "must be text", "62701"},
		{"fhir decimal for text", fhirAnswers(in, qr("/56799-0", `{"valueDecimal":62701}`)), "answers.56799-0", "must be text", "62701"},
		{"fhir text with control", fhirAnswers(in, qr("/56799-0", `{"valueString":"Secret\u0007Road"}`)), "answers.56799-0", "control characters", "Secret"},
		{"fhir no value", fhirAnswers(in, qr("/56799-0", `{}`)), "answers.56799-0", "needs valueCoding", ""},
		{"api not a number", api(in, "household-size", "four"), "answers.63512-8", "must be a whole number", "four"},
		{"api NaN", api(in, "63512-8", "NaN"), "answers.63512-8", "must be a whole number", ""},
		{"api infinity", api(in, "63586-2", "-Inf"), "answers.63586-2", "out of the item's range", ""},
		{"api several integers", api(in, "63512-8", "2", "3"), "answers.63512-8", "takes one answer", ""},
		{"api no answer", api(in, "56799-0"), "answers.56799-0", "has no answer", ""},
		{"api invalid utf-8", api(in, "56799-0", "Secret \xff Road"), "answers.56799-0", "not valid UTF-8", "Secret"},
		{"api empty text", api(in, "56799-0", ""), "answers.56799-0", "has no answer", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse()
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.True(t, errors.As(err, &ve), err)
			require.Equal(t, tc.field, ve.Field)
			require.Contains(t, ve.Problem, tc.problem)
			if tc.secret != "" {
				require.NotContains(t, err.Error(), tc.secret, "the value given is personal data")
			}
		})
	}
}

func jsonAnswers(in *Instrument, body string) func() error {
	return func() error {
		r, err := ParseAnswers(in, []byte(`{"answers":`+body+`}`))
		if r != nil {
			return errors.New("a response came back with the error")
		}
		return err
	}
}

func fhirAnswers(in *Instrument, body string) func() error {
	return func() error {
		r, err := ParseQuestionnaireResponse(in, []byte(body))
		if r != nil {
			return errors.New("a response came back with the error")
		}
		return err
	}
}

func api(in *Instrument, item string, given ...string) func() error {
	return func() error { return in.NewResponse().Answer(item, given...) }
}

func TestFreeEntryTextLimits(t *testing.T) {
	in := builtin(t, "prapare")
	for _, tc := range []struct {
		name, text string
	}{
		{"exactly the limit", strings.Repeat("a", 500)},
		{"the limit in multi-byte characters", strings.Repeat("é", 500)},
		{"lines and tabs, as FHIR strings allow", "1200 Example Avenue\r\nApt 3\tSpringfield"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, in.NewResponse().Answer("56799-0", tc.text))
		})
	}
	custom, err := Parse("t.json", []byte(`{"id":"t","version":"1","title":"T","items":[{"id":"n","key":"n","text":"Note","type":"text"}]}`))
	require.NoError(t, err)
	require.NoError(t, custom.NewResponse().Answer("n", strings.Repeat("x", maxText)), "no max_length: the engine's limit")
	err = custom.NewResponse().Answer("n", strings.Repeat("x", maxText+1))
	require.ErrorContains(t, err, "longer than 1024 characters")
}

func TestFreeEntryDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, path, problem string
	}{
		{"unknown type", `"type": "integer", "min": 1, "max": 20`, `"type": "date"`, "items[0].type", "must be choice, integer or text"},
		{"options on integer", `"type": "integer", "min": 1, "max": 20`, `"type": "integer", "options": [{"code": "a", "display": "A"}]`, "items[0].options", "must be absent on a integer item"},
		{"multiple on text", `"type": "text", "max_length": 80`, `"type": "text", "multiple": true`, "items[2].multiple", "only meaningful on a choice item"},
		{"min above max", `"min": 1, "max": 20`, `"min": 21, "max": 20`, "items[0]", "min above max"},
		{"min beyond the engine limit", `"min": 1, "max": 20`, `"min": -1000000001`, "items[0].min", "must be between"},
		{"max beyond the engine limit", `"min": 1, "max": 20`, `"max": 2000000000`, "items[0].max", "must be between"},
		{"max_length on integer", `"min": 1, "max": 20`, `"max_length": 5`, "items[0].max_length", "only meaningful on a text item"},
		{"min on text", `"type": "text", "max_length": 80`, `"type": "text", "min": 1`, "items[2]", "only integer items take"},
		{"max_length too long", `"max_length": 80`, `"max_length": 5000`, "items[2].max_length", "between 1 and 1024"},
		{"negative max_length", `"max_length": 80`, `"max_length": -1`, "items[2].max_length", "between 1 and 1024"},
		{"bounds on a choice item", `"key": "safe", "text": "Safe?",`, `"key": "safe", "text": "Safe?", "max": 3,`, "items[3]", "only free-entry items take"},
		{"answer codes on an integer item", `"sum": {"items": ["size"], "at_least": 8}`, `"answers": [{"item": "size", "codes": ["4"]}]`, "rules[1].answers[0].item", "names integer item size, which has no answer codes"},
		{"sum over a text item", `"sum": {"items": ["size"]`, `"sum": {"items": ["addr"]`, "rules[1].sum.items[0]", "has no numeric values"},
		{"expression over a text item", `item(\"bedrooms\")`, `item(\"addr\")`, "rules[0].expr", `item("addr") has no numeric values`},
		{"total over a text item", `"total": {"items": ["size", "safe"]}`, `"total": {"items": ["addr"]}`, "total.items[0]", "has no numeric values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(household, tc.old, tc.new, 1)
			require.NotEqual(t, household, src)
			_, err := Parse("household.json", []byte(src))
			require.ErrorIs(t, err, referral.ErrInvalid)
			var de *DefinitionError
			require.True(t, errors.As(err, &de), err)
			require.Equal(t, tc.path, de.Path, err.Error())
			require.Contains(t, de.Problem, tc.problem)
			require.NotZero(t, de.Line, "positioned: %v", err)
		})
	}
}

func TestPRAPAREFullQuestionnaireResponse(t *testing.T) {
	in := builtin(t, "prapare")
	data, err := os.ReadFile("testdata/prapare-qr.json")
	require.NoError(t, err)
	r, err := ParseQuestionnaireResponse(in, data)
	require.NoError(t, err)
	res := r.Score()
	require.True(t, res.Valid)
	require.Empty(t, res.Missing)
	require.Empty(t, res.Indeterminate, "every item was answered")
	// Housing worry, unemployment, food, clothing and stress.
	require.Equal(t, Score{Value: 5, Set: true}, res.Total)
	require.Equal(t, []referral.Domain{referral.HousingInstability, referral.EmploymentStatus, referral.FoodInsecurity,
		referral.MaterialHardship, referral.Stress}, res.PositiveDomains)
	require.Empty(t, res.Flags)
	for _, ir := range res.Items {
		require.Equal(t, StatusAnswered, ir.Status, ir.ID)
	}
	size, _ := in.index("63512-8")
	income, _ := in.index("63586-2")
	addr, _ := in.index("56799-0")
	require.Equal(t, Score{Value: 4, Set: true}, res.Items[size].Value)
	require.Equal(t, Score{Value: 18500, Set: true}, res.Items[income].Value)
	require.Equal(t, Score{}, res.Items[addr].Value)
	out, err := json.Marshal(res)
	require.NoError(t, err)
	require.NotContains(t, string(out), "Example Avenue")

	obs := r.Observations(&res, ObservationOptions{Prefix: "p", Subject: "Patient/example", At: time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC)})
	require.Len(t, obs, len(in.Items)+2, "one per item, two for the two material needs, and the panel")
	values := map[string]Observation{}
	for _, o := range obs {
		values[o.Code.Coding[0].Code] = o
	}
	require.Equal(t, 4, *values["63512-8"].ValueInteger)
	require.Equal(t, 18500, *values["63586-2"].ValueInteger)
	require.Equal(t, address, *values["56799-0"].ValueString, "the Observation is the person's record")
	require.Nil(t, values["56799-0"].ValueCodeableConcept)
	panel := obs[len(obs)-1]
	require.Equal(t, 5, *panel.ValueInteger)
	require.Len(t, panel.HasMember, len(obs)-1)
}

// BenchmarkAnswerFreeEntry answers PRAPARE's two integer items and its text
// item into a reused Response. Target: no allocation, the text being kept by
// reference.
func BenchmarkAnswerFreeEntry(b *testing.B) {
	in := builtin(b, "prapare")
	r := in.NewResponse()
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		for _, a := range [][2]string{{"63512-8", "4"}, {"63586-2", "18500"}, {"56799-0", address}} {
			if err := r.Answer(a[0], a[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
