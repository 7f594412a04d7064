package fhir_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

// FuzzParseTask holds the Task parser to its contract on any input: no panic,
// failures wrap ErrInvalid, and a Task it accepts survives re-encoding.
func FuzzParseTask(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task"}}]}`))
	f.Add([]byte(`{"resourceType":"Task","status":"completed","intent":"order","focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab/_history/"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := fhir.ParseTask(data)
		if err != nil {
			if !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if _, err := task.ReferralID(); err != nil {
			t.Fatalf("accepted Task has no referral id: %v", err)
		}
		again, err := json.Marshal(task)
		if err != nil {
			t.Fatalf("accepted Task does not encode: %v", err)
		}
		if _, err := fhir.ParseTask(again); err != nil {
			t.Fatalf("re-encoded Task does not parse: %v", err)
		}
	})
}
