package referral_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// An attribute's key is the host's and may say something about the person
// ("hiv_status"), so a bad value is reported against "attributes", never the
// key. Before, the field read "attributes.<key>".
func TestAttributeErrorsNameNoKey(t *testing.T) {
	const key = "hiv_status"
	for name, value := range map[string]string{
		"a value with a NUL":                   "positive\x00",
		"a value too long":                     strings.Repeat("x", 1001),
		"a value in invalid UTF-8":             "pos\xffitive",
		"a value with an escape":               "\x1b[2J",
		"a value with a bell":                  "a\x07",
		"a value of a lone surrogate, decoded": "\ufffd",
	} {
		t.Run(name, func(t *testing.T) {
			p := referral.Person{ID: referral.NewID(), Network: referral.NewID(), Attributes: map[string]string{key: value}}
			err := p.Validate()
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "attributes", ve.Field)
			require.NotContains(t, err.Error(), key)
		})
	}
}
