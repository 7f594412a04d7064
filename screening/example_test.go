package screening_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

func ExampleParseAnswers() {
	in, _ := screening.Default().Lookup("ahc-hrsn")
	r, err := screening.ParseAnswers(in, []byte(`{"answers": {
		"71802-3": "LA31994-9", "96778-6": ["None of the above"],
		"88122-7": "Sometimes true", "88123-5": "Never true",
		"93030-5": "No", "96779-4": "No",
		"95618-5": 4, "95617-7": 3, "95616-9": 2, "95615-1": 2}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := r.Score()
	fmt.Println(res.Valid, res.PositiveDomains, res.Flags)
	for _, n := range res.Needs {
		fmt.Println(n.Domain, n.Urgency)
	}
	// Output:
	// true [housing-instability food-insecurity interpersonal-safety] [interpersonal-safety-risk]
	// housing-instability routine
	// food-insecurity routine
	// interpersonal-safety urgent
}

func ExampleResponse_ScoreInto() {
	in, _ := screening.Default().Lookup("phq-9")
	r := in.NewResponse()
	for _, id := range []string{"44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3"} {
		_ = r.Answer(id, "1")
	}
	_ = r.Answer("44260-8", "Several days")
	var res screening.Result
	r.ScoreInto(&res)
	total, _ := json.Marshal(res.Total)
	fmt.Println(string(total), res.Band, res.Flags, res.Needs[0].Urgency)
	// Output: 9 mild [self-harm-risk] emergent
}

func ExampleResponse_Answer() {
	in, _ := screening.Default().Lookup("gad-7")
	r := in.NewResponse()
	fmt.Println(r.Answer("69725-0", "LA6570-1"))
	fmt.Println(r.Answer("69725-0", "1"))
	fmt.Println(r.Answer("68509-9", "5"))
	fmt.Println(r.Answer("trouble-relaxing", "several days"))
	// Output:
	// <nil>
	// refkit: invalid input: answers.69725-0 is answered more than once
	// refkit: invalid input: answers.68509-9 has a value out of the item's range
	// <nil>
}

func ExampleResponse_Answer_freeEntry() {
	in, _ := screening.Default().Lookup("prapare")
	r := in.NewResponse()
	fmt.Println(r.Answer("household-size", "4"))
	fmt.Println(r.Answer("income", "18500.50"))
	fmt.Println(r.Answer("address", "1200 Example Avenue\x00"))
	fmt.Println(r.Answer("address", "1200 Example Avenue, Springfield, IL 62701"))
	res := r.Score()
	for _, it := range res.Items {
		if it.Status == screening.StatusAnswered {
			value, _ := json.Marshal(it.Value)
			fmt.Println(it.Key, it.Status, string(value))
		}
	}
	// Output:
	// <nil>
	// refkit: invalid input: answers.63586-2 must be a whole number
	// refkit: invalid input: answers.56799-0 contains control characters
	// <nil>
	// household-size answered 4
	// address answered null
}

func ExampleResponse_Decline() {
	in, _ := screening.Default().Lookup("phq-2")
	r := in.NewResponse()
	_ = r.Answer("44250-9", "3")
	_ = r.Decline("44255-8")
	res := r.Score()
	total, _ := json.Marshal(res.Total)
	fmt.Println(string(total), res.Valid, res.Missing)
	// Output: null false [44255-8]
}

func ExampleParse() {
	_, err := screening.Parse("custom.json", []byte(`{
  "id": "custom", "version": "1", "title": "Custom",
  "items": [{"id": "q1", "key": "q1", "text": "Q?", "options": [{"code": "y", "display": "Yes", "value": 1}]}],
  "rules": [{"id": "r", "domain": "stress", "urgency": "routine", "expr": "item(\"q2\") > 0"}]
}`))
	fmt.Println(err)
	// Output: screening: custom.json:4:75: rules[0].expr: column 1: item("q2") names no item of this instrument
}

func ExampleParseQuestionnaireResponse() {
	in, _ := screening.Default().Lookup("hunger-vital-sign")
	r, err := screening.ParseQuestionnaireResponse(in, []byte(`{
  "resourceType": "QuestionnaireResponse",
  "item": [
    {"linkId": "/88122-7", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA28398-8"}}]},
    {"linkId": "/88123-5", "answer": [{"valueString": "Often true"}]}
  ]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := r.Score()
	fmt.Println(res.PositiveDomains)
	// Output: [food-insecurity]
}

func ExampleResponse_Observations() {
	in, _ := screening.Default().Lookup("phq-2")
	r := in.NewResponse()
	_ = r.Answer("44250-9", "0")
	_ = r.Answer("44255-8", "1")
	res := r.Score()
	opts := screening.ObservationOptions{Prefix: "obs", Subject: "Patient/example", At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, o := range r.Observations(&res, opts) {
		value := ""
		if o.ValueCodeableConcept != nil {
			value = o.ValueCodeableConcept.Coding[0].Code
		}
		if o.ValueInteger != nil {
			value = fmt.Sprint(*o.ValueInteger)
		}
		fmt.Println(o.ID, o.Code.Coding[0].Code, value)
	}
	// Output:
	// obs-1 44250-9 LA6568-5
	// obs-2 44255-8 LA6569-3
	// obs-3 55757-9 1
}

// The Hunger Vital Sign as the SDOH Clinical Care IG sends it: the two
// questions and the food insecurity risk computed from them, which refkit
// checks rather than trusts. The Observations are the IG's screening
// responses, derived from the QuestionnaireResponse.
func ExampleParseQuestionnaireResponse_derivedItem() {
	in, _ := screening.Default().Lookup("hunger-vital-sign")
	body := `{"resourceType": "QuestionnaireResponse", "status": "completed",
	  "questionnaire": "http://hl7.org/fhir/us/sdoh-clinicalcare/Questionnaire/SDOHCC-QuestionnaireHungerVitalSign",
	  "item": [
	    {"linkId": "/88122-7", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA28397-0"}}]},
	    {"linkId": "/88123-5", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA28398-8"}}]},
	    {"linkId": "/88124-3", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA19952-3"}}]}]}`
	r, err := screening.ParseQuestionnaireResponse(in, []byte(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := r.Score()
	for _, o := range r.Observations(&res, screening.ObservationOptions{Prefix: "hvs", Subject: "Patient/1",
		At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Source: "QuestionnaireResponse/qr1"}) {
		fmt.Println(o.ID, o.Code.Coding[0].Code, o.Category[1].Coding[0].Code, len(o.DerivedFrom))
	}

	// A risk the answers do not give is refused, naming the item.
	_, err = screening.ParseQuestionnaireResponse(in, []byte(strings.Replace(body, "LA19952-3", "LA19983-8", 1)))
	fmt.Println(err)
	// Output:
	// hvs-1 88122-7 sdoh 1
	// hvs-2 88123-5 sdoh 1
	// hvs-3 88124-3 sdoh 3
	// hvs-4 88121-9 sdoh 1
	// refkit: invalid input: answers.88124-3 does not match what the other answers give
}

func ExampleResult_Screening() {
	in, _ := screening.Default().Lookup("phq-2")
	r := in.NewResponse()
	_ = r.Answer("44250-9", "3")
	_ = r.Answer("44255-8", "0")
	ids := referral.NewIDGenerator(func() time.Time { return time.Unix(1700000000, 0) }, nil)
	id := ids.MustNew()
	s := r.Score().Screening(id, ids.MustNew(), ids.MustNew(), time.Unix(1700000000, 0).UTC())
	fmt.Println(s.Validate(), *s.Total, s.Needs[0].Domain, s.Needs[0].Screening == id)
	// Output: <nil> 3 mental-health true
}

func ExampleRegistry_List() {
	for _, in := range screening.Default().List() {
		fmt.Println(in.ID, in.Code, len(in.Items))
	}
	// Output:
	// ahc-hrsn 96777-8 27
	// gad-7 69737-5 7
	// hunger-vital-sign 88121-9 2
	// phq-2 55757-9 2
	// phq-9 44249-1 9
	// prapare 93025-5 21
}
