package screening

import "testing"

// BenchmarkParseAnswersAHC parses a complete AHC HRSN response as a host
// receives it (JSON, answers by code and text), the strict-JSON check included.
func BenchmarkParseAnswersAHC(b *testing.B) {
	in := builtin(b, "ahc-hrsn")
	data := []byte(`{"answers":{"71802-3":"LA31993-1","96778-6":["LA28580-1","LA31997-2"],"88122-7":"Often true",` +
		`"88123-5":"Sometimes true","93030-5":"LA33-6","96779-4":"LA33-6","95618-5":"LA6270-8","95617-7":"LA10066-1",` +
		`"95616-9":"LA10082-8","95615-1":"LA16644-9"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseAnswers(in, data); err != nil {
			b.Fatal(err)
		}
	}
}
