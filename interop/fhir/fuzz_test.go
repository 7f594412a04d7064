package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

// seeds are the fixtures every FHIR fuzz target starts from: refkit's own
// exports' shapes and the IG-shaped updates.
func seeds(f *testing.F) [][]byte {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	ig, err := filepath.Glob("testdata/ig/*.json")
	require.NoError(f, err)
	var out [][]byte
	for _, name := range append(files, ig...) {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		out = append(out, data)
	}
	out = append(out,
		[]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task"}}]}`),
		[]byte(`{"resourceType":"Task","status":"completed","intent":"order","focus":{"reference":"ServiceRequest/0190a6f0-8a4b-7c3d-9e2f-0123456789ab/_history/"}}`),
		[]byte(`{"resourceType":"Task","status":"received","intent":"order","focus":{"reference":"urn:uuid:0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}}`),
		[]byte(`{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"urn:uuid:0190a6f0-8a4b-7c3d-9e2f-0123456789ab"},"businessStatus":{"coding":[{"system":"`+fhir.SystemBusinessStatus+`","code":"scheduled"}]}}`),
		[]byte("{\"resourceType\":\"Task\",\"status\":\"accepted\",\"note\":\"\xff\"}"),
		[]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Goal","x":`+strings.Repeat("[", 64)+strings.Repeat("]", 64)+`}}]}`),
		[]byte(`[]`),
	)
	return out
}

// FuzzParseTask holds the Task parser to its contract on any input: no panic,
// failures wrap ErrInvalid, and a Task it accepts has a referral id and
// survives re-encoding.
func FuzzParseTask(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
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
		if err := referral.Status(task.Status).Validate(); err != nil {
			t.Fatalf("accepted Task has a status outside the IG's value set")
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

// FuzzParseBundle: no panic, failures wrap ErrInvalid, Validate never panics
// and its problems wrap ErrInvalid too.
func FuzzParseBundle(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	n := newNetwork()
	r := n.refer()
	b, err := n.x.Export(context.Background(), n.clinic, r.ID)
	require.NoError(f, err)
	data, err := json.Marshal(b)
	require.NoError(f, err)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := fhir.ParseBundle(data)
		if err != nil {
			if !errors.Is(err, referral.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := b.Validate(); err != nil && !errors.Is(err, referral.ErrInvalid) {
			t.Fatalf("validation problem does not wrap ErrInvalid: %v", err)
		}
	})
}

// FuzzApply applies arbitrary updates to one referral of a network as the
// receiving organization: no panic, every error wraps a referral sentinel,
// and an update refused writes nothing.
func FuzzApply(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"resourceType":"Task","status":"accepted","intent":"order","focus":{"reference":"ServiceRequest/REFERRAL"}}`))
	f.Add([]byte(`{"resourceType":"Task","status":"requested","intent":"order","focus":{"reference":"urn:uuid:REFERRAL"},"businessStatus":{"coding":[{"code":"acknowledged"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := newNetwork()
		r := n.refer()
		data = []byte(strings.NewReplacer("REFERRAL", r.ID.String(), "PERSON", n.person.String(),
			"RECEIVER", n.foodBank.Organization.String(), "0190a6f0-8a4b-7c3d-9e2f-0123456789ab", r.ID.String()).Replace(string(data)))
		got, err := n.x.Apply(context.Background(), n.foodBank, data)
		after, gerr := n.engine.Get(context.Background(), n.clinic, r.ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if err != nil {
			known := false
			for _, s := range []error{referral.ErrInvalid, referral.ErrInvalidTransition, referral.ErrForbidden, referral.ErrNotFound, referral.ErrConflict, referral.ErrNoConsent} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if after.Version != r.Version {
				t.Fatalf("a refused update wrote version %d", after.Version)
			}
			return
		}
		if got.Version != after.Version || got.Status != after.Status {
			t.Fatalf("Apply returned %v, the store holds %v", got.Status, after.Status)
		}
	})
}
