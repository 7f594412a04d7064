package strictjson

import (
	"strings"
	"testing"
)

// benchmarkDocs are a FHIR Task update of the usual size and a 1 MiB document of
// many small objects, the shape that costs most per byte.
var benchmarkDocs = map[string]string{
	"task": `{"resourceType":"Task","id":"0190a6f0-8a4b-7c3d-9e2f-0123456789ab","meta":{"versionId":"3"},` +
		`"status":"accepted","intent":"order","priority":"routine","code":{"coding":[{"system":"http://hl7.org/fhir/CodeSystem/task-code","code":"fulfill"}]},` +
		`"focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"},"for":{"reference":"Patient/0190a6f0-8a4b-7c3d-9e2f-0123456789ac"},` +
		`"authoredOn":"2026-03-02T09:00:00Z","lastModified":"2026-03-02T11:00:00Z","requester":{"reference":"Organization/0190a6f0-8a4b-7c3d-9e2f-0123456789ad"},` +
		`"owner":{"reference":"Organization/0190a6f0-8a4b-7c3d-9e2f-0123456789ae"}}`,
	"many-objects": "[" + strings.TrimSuffix(strings.Repeat(`{"system":"http://loinc.org","code":"LA30125-1","display":"Food"},`, 16_000), ",") + "]",
}

func BenchmarkCheck(b *testing.B) {
	for _, name := range []string{"task", "many-objects"} {
		doc := []byte(benchmarkDocs[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := Check(doc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
