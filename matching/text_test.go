package matching_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// Matching holds a person's text to the rule referral.Person.Validate does, so
// a person it matches is one a store accepts: control characters, and invalid
// UTF-8 (which a JSON decoder turns into U+FFFD), are ErrInvalid naming the
// field. Before, they were matched as they were.
func TestPersonTextIsValidated(t *testing.T) {
	ctx := context.Background()
	ix, err := matching.New(ctx, exampleDirectory(), matching.Options{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		change func(p *referral.Person)
		field  string
	}{
		{"NUL in zip", func(p *referral.Person) { p.Zip = "43\x0015" }, "person.zip"},
		{"escape in county", func(p *referral.Person) { p.County = "Cook\x1b[2J" }, "person.county"},
		{"invalid UTF-8 in insurance", func(p *referral.Person) { p.Insurance = "medic\xffaid" }, "person.insurance"},
		{"replacement character in insurance", func(p *referral.Person) { p.Insurance = "medic\ufffdaid" }, "person.insurance"},
		{"control in an attribute value", func(p *referral.Person) { p.Attributes = map[string]string{"tribe": "a\x07"} }, "person.attributes"},
		{"control in an attribute key", func(p *referral.Person) { p.Attributes = map[string]string{"tr\x00ibe": "a"} }, "person.attributes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := exampleRequest()
			tc.change(&req.Person)
			_, err := ix.Match(ctx, req)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
	req := exampleRequest()
	req.Person.County, req.Person.Attributes = "Doña Ana", map[string]string{"note": "line one\nline two\tend"}
	_, err = ix.Match(ctx, req)
	require.NoError(t, err, "text with accents, tabs and line breaks is text")
}

// BenchmarkRequestValidate is the check every Match runs first, for a typical
// person and for the largest a request may carry (100 attributes of 1,000
// bytes), whose text it now reads whole.
func BenchmarkRequestValidate(b *testing.B) {
	typical := exampleRequest()
	typical.Person.Zip, typical.Person.County, typical.Person.Insurance = "43215", "Franklin", "medicaid"
	typical.Person.Attributes = map[string]string{"tribe": "none", "program": "wic"}
	largest := exampleRequest()
	largest.Person.Zip, largest.Person.County = strings.Repeat("9", 100), strings.Repeat("c", 100)
	largest.Person.Insurance = strings.Repeat("i", 100)
	largest.Person.Attributes = map[string]string{}
	for i := range 100 {
		largest.Person.Attributes[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 1000)
	}
	for name, req := range map[string]matching.Request{"typical": typical, "largest": largest} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := req.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
