package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/adversarial"
	"github.com/refkit/refkit/referral"
)

// requestTemplate is a match request the command answers, with slots for the
// adversarial corpus.
var requestTemplate = adversarial.Template{
	Doc: `{"person":{"household_size":@household@,"income_annual":@income@,"county":@county@,"attributes":{"k":@attribute@}},` +
		`"needs":[{"domain":@domain@,"urgency":"urgent"}],"near":{"latitude":@lat@,"longitude":-122.27},"radius_m":10000}`,
	Slots: []adversarial.Slot{
		{Name: "household", Kind: adversarial.Integer, Valid: "3"},
		{Name: "income", Kind: adversarial.Number, Valid: "30000"},
		{Name: "county", Kind: adversarial.String, Valid: `"Alameda"`},
		{Name: "attribute", Kind: adversarial.String, Valid: `"x"`},
		{Name: "domain", Kind: adversarial.String, Valid: `"food-insecurity"`},
		{Name: "lat", Kind: adversarial.Number, Valid: "37.8"},
	},
}

// The request `refkit match` reads is outside input: every hostile request of
// the corpus is refused with ErrInvalid, by a message that quotes none of it,
// and a request is read to at most 1 MiB, however much stdin holds.
func TestMatchHostileRequests(t *testing.T) {
	ctx := context.Background()
	dir := writeTemp(t, "dir.json", matchDirectory)
	run := func(stdin *adversarial.Counting) error {
		var out, errOut bytes.Buffer
		return (&matchCmd{directory: dir}).run(ctx, nil, stdio{in: stdin, out: &out, err: &errOut})
	}
	require.NoError(t, run(adversarial.CountReads(bytes.NewReader(requestTemplate.Valid()))))
	for _, c := range requestTemplate.Cases() {
		if c.Big && c.Kind != adversarial.String {
			continue // one large value per document is enough to exceed the cap
		}
		err := run(adversarial.CountReads(bytes.NewReader(c.Data)))
		require.ErrorIs(t, err, referral.ErrInvalid, c.Name)
		require.Less(t, len(err.Error()), 300, "%s: the error quotes the input", c.Name)
	}

	// Values a person gave are never repeated back, even when encoding/json
	// cannot store them.
	for slot, value := range map[string]string{"income": "734519e999", "household": "734519.5", "lat": "7345199e400"} {
		err := run(adversarial.CountReads(bytes.NewReader(requestTemplate.With(slot, []byte(value)))))
		require.ErrorIs(t, err, referral.ErrInvalid, slot)
		require.NotContains(t, err.Error(), "734519", slot)
	}

	// A hundred megabytes on stdin: one request's worth is read, no more.
	huge := adversarial.Framed(`{"person":{"county":"`, 'a', 100<<20, `"}}`)
	err := run(huge)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.LessOrEqual(t, huge.N(), int64(maxRequest+1))

	// A line of JSON Lines past the cap is refused by line number.
	lines := writeTemp(t, "reqs.jsonl", matchRequest+"\n"+`{"person":{"county":"`+strings.Repeat("a", 2<<20)+`"}}`+"\n")
	var out, errOut bytes.Buffer
	err = (&matchCmd{directory: dir, requests: lines}).run(ctx, nil, stdio{out: &out, err: &errOut})
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "requests line 2")
	require.Empty(t, out.String(), "nothing is printed when a request fails")
	var ve *referral.ValidationError
	require.True(t, errors.As(err, &ve), fmt.Sprint(err))
}
