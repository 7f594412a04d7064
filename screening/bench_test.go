package screening

import "testing"

// ahcFull answers every AHC HRSN item, core and supplemental.
var ahcFull = map[string][]string{
	"71802-3": {"LA31994-9"}, "96778-6": {"LA28580-1", "LA32001-2"}, "88122-7": {"LA6729-3"}, "88123-5": {"LA28398-8"},
	"93030-5": {"LA32-8"}, "96779-4": {"LA33-6"}, "95618-5": {"LA10066-1"}, "95617-7": {"LA10082-8"},
	"95616-9": {"LA6270-8"}, "95615-1": {"LA10082-8"}, "76513-1": {"LA22683-9"}, "96780-2": {"LA31983-2"},
	"96781-0": {"LA31977-4"}, "93159-2": {"LA10082-8"}, "97027-7": {"LA32-8"}, "96782-8": {"LA32-8"},
	"89555-7": {"LA6113-0"}, "68516-4": {"LA28855-7"}, "68517-2": {"LA6270-8"}, "96842-0": {"LA26460-8"},
	"95530-2": {"LA6270-8"}, "68524-8": {"LA6270-8"}, "44250-9": {"LA6569-3"}, "44255-8": {"LA6569-3"},
	"93038-8": {"LA13909-9"}, "69858-9": {"LA32-8"}, "69861-3": {"LA32-8"},
}

func ahcResponse(b *testing.B) *Response {
	in := builtin(b, "ahc-hrsn")
	r := in.NewResponse()
	for id, a := range ahcFull {
		if err := r.Answer(id, a...); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// BenchmarkScoreAHC scores one fully answered AHC HRSN response (27 items, 16
// rules, two of them expr programs) into a reused Result. Target: under 5 µs,
// no allocation.
func BenchmarkScoreAHC(b *testing.B) {
	r := ahcResponse(b)
	var res Result
	r.ScoreInto(&res)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.ScoreInto(&res)
	}
}

// BenchmarkScoreAHCParallel is BenchmarkScoreAHC on all cores, each goroutine
// with its own response, to show the pooled VMs do not contend.
func BenchmarkScoreAHCParallel(b *testing.B) {
	in := builtin(b, "ahc-hrsn")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := in.NewResponse()
		for id, a := range ahcFull {
			_ = r.Answer(id, a...)
		}
		var res Result
		for pb.Next() {
			r.ScoreInto(&res)
		}
	})
}

// BenchmarkAnswerAndScoreAHC includes resolving the 27 answers (codes) into a
// reused Response, as a host does per request once the JSON is decoded.
func BenchmarkAnswerAndScoreAHC(b *testing.B) {
	r := ahcResponse(b)
	ids := make([]string, 0, len(ahcFull))
	for id := range ahcFull {
		ids = append(ids, id)
	}
	var res Result
	r.ScoreInto(&res)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Reset()
		for _, id := range ids {
			_ = r.Answer(id, ahcFull[id]...)
		}
		r.ScoreInto(&res)
	}
}
