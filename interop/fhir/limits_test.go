package fhir_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

// A Task or Bundle is strict I-JSON within the parsers' limits, checked before
// it is decoded. Before, Decoder.More let a stray bracket after the resource
// pass, a member given twice (or in another case) kept the last, and 4 MiB of
// empty objects in Task.output decoded into 400 MB.
func TestParseLimits(t *testing.T) {
	const task = `{"resourceType":"Task","id":"0190a6f0-8a4b-7c3d-9e2f-0123456789ab","status":"accepted","intent":"order",` +
		`"focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`
	_, err := fhir.ParseTask([]byte(task))
	require.NoError(t, err)
	filled := func(prefix, elem, suffix string, n int) string {
		return prefix + strings.TrimSuffix(strings.Repeat(elem+",", n), ",") + suffix
	}
	for _, tc := range []struct {
		name, doc, problem string
	}{
		{"trailing bracket", task + "]", "has data after the JSON value"},
		{"trailing brace", task + "}", "has data after the JSON value"},
		{"status twice", strings.Replace(task, `"status":"accepted"`, `"status":"accepted","status":"completed"`, 1), "repeats a member name"},
		{"status in another case", strings.Replace(task, `"status":"accepted"`, `"status":"accepted","Status":"completed"`, 1), "repeats a member name"},
		{"unpaired surrogate", strings.Replace(task, `"intent":"order"`, `"intent":"order","note":"\udc00"`, 1), "unpaired surrogate"},
		{"invalid UTF-8", strings.Replace(task, `"intent":"order"`, "\"intent\":\"order\",\"note\":\"\xc3\"", 1), "is not UTF-8"},
		{"id not of FHIR's syntax", strings.Replace(task, `"id":"0190a6f0`, `"id":"\u0000 0190a6f0`, 1), "is not a FHIR id"},
		{"outputs beyond limits", filled(`{"resourceType":"Task","output":[`, `{}`, `]}`, 10_001), "more than 10000 elements"},
		{"values beyond limits", filled(`{"resourceType":"Task","output":[`, `{"type":{"coding":[{},{},{},{},{},{},{},{},{},{}]}}`, `]}`, 9_000), "more than 100000 values"},
		{"too deep", strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "deeper than 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fhir.ParseTask([]byte(tc.doc))
			require.ErrorIs(t, err, referral.ErrInvalid)
			require.ErrorContains(t, err, tc.problem)
			bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + tc.doc + `}]}`
			if _, err := fhir.ParseBundle([]byte(bundle)); tc.name != "id not of FHIR's syntax" {
				require.ErrorIs(t, err, referral.ErrInvalid, "in a bundle")
			}
		})
	}

	// Over 4 MiB is refused unread.
	big := []byte(`{"resourceType":"Bundle","entry":[],"x":"` + strings.Repeat("a", 5<<20) + `"}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = fhir.ParseBundle(big)
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "larger than 4 MiB")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10))
}
