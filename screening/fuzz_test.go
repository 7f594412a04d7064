package screening

import (
	"errors"
	"os"
	"testing"

	"github.com/refkit/refkit/referral"
)

func FuzzParseAnswers(f *testing.F) {
	f.Add(`{"answers":{"71802-3":"LA31995-6","96778-6":["mold","Lack of heat"],"95618-5":3}}`)
	f.Add(`{"answers":{"88122-7":null,"89555-7":7,"68516-4":"150 or greater"}}`)
	f.Add(`{"answers":{"96778-6":[]}}`)
	f.Add(`{"answers":{"x":1,"x":2}}`)
	in := builtin(f, "ahc-hrsn")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseAnswers(in, []byte(body))
		if err != nil {
			if r != nil || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v with response %v", err, r)
			}
			return
		}
		res := r.Score()
		if res.Instrument != "ahc-hrsn" || len(res.Items) != len(in.Items) {
			t.Fatalf("bad result %+v", res)
		}
		for _, n := range res.Needs {
			if err := n.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseQuestionnaireResponse(f *testing.F) {
	data, err := os.ReadFile("testdata/phq9-qr.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/44260-8","answer":[{"valueInteger":3}]}]}`)
	in := builtin(f, "phq-9")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseQuestionnaireResponse(in, []byte(body))
		if err != nil {
			if r != nil || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v with response %v", err, r)
			}
			return
		}
		res := r.Score()
		if res.Total.Set && (res.Total.Value < 0 || res.Total.Value > 27) {
			t.Fatalf("total %d out of range", res.Total.Value)
		}
	})
}

func FuzzParseInstrument(f *testing.F) {
	f.Add(tiny)
	f.Add(tally)
	for _, name := range []string{"phq-9", "ahc-hrsn", "prapare"} {
		data, err := builtinFiles.ReadFile("instruments/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(`{"id":"x","version":"1","title":"X","items":[{"id":"a","key":"a","text":"A","options":[{"code":"c","display":"C","value":1}]}],"rules":[{"id":"r","flag":"f","urgency":"urgent","expr":"item(\"a\") / 0 > 1"}]}`)
	f.Fuzz(func(t *testing.T, def string) {
		in, err := Parse("fuzz.json", []byte(def))
		if err != nil {
			var de *DefinitionError
			if in != nil || !errors.As(err, &de) || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v (%T) with instrument %v", err, err, in)
			}
			return
		}
		// Whatever parsed must score an empty and a fully answered response.
		r := in.NewResponse()
		_ = r.Score()
		for _, it := range in.Items {
			for _, o := range it.Options {
				if !o.Declined && !o.Exclusive {
					if err := r.Answer(it.ID, o.Code); err != nil {
						t.Fatalf("answering %s with its own option: %v", it.ID, err)
					}
					break
				}
			}
		}
		_ = r.Score()
	})
}
