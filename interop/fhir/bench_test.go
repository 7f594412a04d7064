package fhir_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/refkit/refkit/interop/fhir"
)

func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	b.ReportAllocs()
	for b.Loop() {
		bundle, err := n.x.Export(ctx, n.clinic, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(bundle); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTask(b *testing.B) {
	n := newNetwork()
	r := n.refer()
	bundle, err := n.x.Export(context.Background(), n.foodBank, r.ID)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(bundle.Task())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := fhir.ParseTask(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply applies alternating hold and resume updates: parse, access
// check, guards and one conditional write each.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	n := newNetwork()
	r := n.refer()
	must2 := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	_, err := n.engine.Accept(ctx, n.foodBank, r.ID, "")
	must2(err)
	_, err = n.engine.Start(ctx, n.foodBank, r.ID)
	must2(err)
	bundle, err := n.x.Export(ctx, n.foodBank, r.ID)
	must2(err)
	task := bundle.Task()
	task.Meta = nil
	task.Status = "on-hold"
	hold, _ := json.Marshal(task)
	task.Status = "in-progress"
	resume, _ := json.Marshal(task)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		data := hold
		if i%2 == 1 {
			data = resume
		}
		i++
		if _, err := n.x.Apply(ctx, n.foodBank, data); err != nil {
			b.Fatal(err)
		}
	}
}
