package screening

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

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

// FuzzParseAnswersFreeEntry fuzzes answers to PRAPARE, whose household size
// and income are integer items and address a text item. A text answer that
// was accepted must never reach the Result.
func FuzzParseAnswersFreeEntry(f *testing.F) {
	f.Add(`{"answers":{"63512-8":4,"56799-0":"1200 Example Avenue","63586-2":18500}}`)
	f.Add(`{"answers":{"household-size":1e1,"income":18500.0,"address":"Apt 3\r\nSpringfield"}}`)
	f.Add(`{"answers":{"63512-8":"4","56799-0":62701,"63586-2":-1}}`)
	f.Add(`{"answers":{"63512-8":2.5,"56799-0":"bad\u0000text","63586-2":1e400}}`)
	f.Add(`{"answers":{"63512-8":[4],"56799-0":null,"63586-2":{"usd":1}}}`)
	in := builtin(f, "prapare")
	addr, _ := in.index("56799-0")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseAnswers(in, []byte(body))
		if err != nil {
			if r != nil || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v with response %v", err, r)
			}
			return
		}
		res := r.Score()
		if len(res.Items) != len(in.Items) {
			t.Fatalf("bad result %+v", res)
		}
		if res.Items[addr].Value.Set || len(res.Items[addr].Answers) > 0 {
			t.Fatalf("text answer reported in the result: %+v", res.Items[addr])
		}
		for _, ir := range res.Items {
			it, _ := in.Item(ir.ID)
			if it.Type == TypeInteger && ir.Value.Set && (ir.Value.Value < it.lo || ir.Value.Value > it.hi) {
				t.Fatalf("item %s value %d out of its bounds", ir.ID, ir.Value.Value)
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

// FuzzParseQuestionnaireResponseFreeEntry fuzzes PRAPARE
// QuestionnaireResponses, including valueInteger, valueDecimal and valueString
// answers to its free-entry items.
func FuzzParseQuestionnaireResponseFreeEntry(f *testing.F) {
	data, err := os.ReadFile("testdata/prapare-qr.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/63512-8","answer":[{"valueDecimal":3.0}]},{"linkId":"/56799-0","answer":[{"valueString":"x"}]}]}`)
	f.Add(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/63586-2","answer":[{"valueDecimal":1e-7}]},{"linkId":"/56799-0","answer":[{"valueInteger":5}]}]}`)
	f.Add(`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/63512-8","answer":[{"valueString":"4"}]}]}`)
	in := builtin(f, "prapare")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseQuestionnaireResponse(in, []byte(body))
		if err != nil {
			if r != nil || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v with response %v", err, r)
			}
			return
		}
		res := r.Score()
		if res.Total.Set && (res.Total.Value < 0 || res.Total.Value > 21) {
			t.Fatalf("tally %d out of range", res.Total.Value)
		}
		_ = r.Observations(&res, ObservationOptions{Prefix: "f", Subject: "", At: time.Unix(0, 0)})
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
	f.Add(household)
	f.Add(`{"id":"x","version":"1","title":"X","items":[{"id":"n","key":"n","text":"N","type":"integer","min":-5,"max":-1},{"id":"t","key":"t","text":"T","type":"text","max_length":3}],"total":{"items":["n"]},"rules":[{"id":"r","flag":"f","urgency":"routine","sum":{"items":["n"],"at_least":-3}}]}`)
	f.Add(`{"id":"x","version":"1","title":"X","items":[{"id":"n","key":"n","text":"N","type":"integer","options":[]}]}`)
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
			switch it.Type {
			case TypeInteger:
				if err := r.Answer(it.ID, strconv.Itoa(it.lo)); err != nil {
					t.Fatalf("answering %s with its minimum: %v", it.ID, err)
				}
				continue
			case TypeText:
				if err := r.Answer(it.ID, "x"); err != nil {
					t.Fatalf("answering %s with text: %v", it.ID, err)
				}
				continue
			}
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

// FuzzQuestionnaireResponseRoundTrip reads QuestionnaireResponses as the
// SDOH Clinical Care IG sends them (derived items, LHC-Forms groups, every
// value type) for each IG-shaped fixture's instrument: no panic, failures
// wrap ErrInvalid, and an accepted response rendered back as a
// QuestionnaireResponse reads back to the same result.
func FuzzQuestionnaireResponseRoundTrip(f *testing.F) {
	instruments := map[byte]*Instrument{}
	var i byte
	for _, fx := range []struct{ file, id string }{
		{"hunger-vital-sign-qr.json", "hunger-vital-sign"}, {"prapare-qr.json", "prapare"}, {"ahc-hrsn-qr.json", "ahc-hrsn"},
	} {
		file, id := fx.file, fx.id
		data, err := os.ReadFile("testdata/ig/" + file)
		if err != nil {
			f.Fatal(err)
		}
		instruments[i] = builtin(f, id)
		f.Add(i, string(data))
		i++
	}
	f.Add(byte(0), `{"resourceType":"QuestionnaireResponse","item":[{"linkId":"/88124-3","answer":[{"valueString":"No risk"}]}]}`)
	f.Add(byte(0), "{\"resourceType\":\"QuestionnaireResponse\",\"item\":[{\"linkId\":\"/88122-7\",\"answer\":[{\"valueString\":\"\xffOften\"}]}]}")
	f.Fuzz(func(t *testing.T, which byte, body string) {
		in := instruments[which%byte(len(instruments))]
		r, err := ParseQuestionnaireResponse(in, []byte(body))
		if err != nil {
			if r != nil || !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error %v with response %v", err, r)
			}
			return
		}
		res := r.Score()
		qr := r.QuestionnaireResponse(&res, QuestionnaireResponseOptions{ID: "x", At: time.Unix(0, 0)})
		out, err := json.Marshal(qr)
		if err != nil {
			t.Fatalf("rendered QuestionnaireResponse does not encode: %v", err)
		}
		again, err := ParseQuestionnaireResponse(in, out)
		if err != nil {
			t.Fatalf("rendered QuestionnaireResponse does not read back: %v", err)
		}
		if got := again.Score(); !reflect.DeepEqual(res, got) {
			t.Fatalf("read back as %+v, not %+v", got, res)
		}
	})
}
