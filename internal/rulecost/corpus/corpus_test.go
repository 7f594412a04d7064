package corpus

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Case
		wantErr  string
	}{
		{"comments and blanks", "# note\n\nok\t\"age > 1\"\n", []Case{{Line: 3, Rule: "age > 1"}}, ""},
		{"rejection", "reject: too long\t\"a\"*3 + \"b\"\n", []Case{{Line: 1, Rule: "aaab", Reject: "too long"}}, ""},
		{"escapes", "ok\t\"\\x00\\xff\"\n", []Case{{Line: 1, Rule: "\x00\xff"}}, ""},
		{"no tab", "ok \"a\"\n", nil, "no tab"},
		{"bad verdict", "maybe\t\"a\"\n", nil, "neither ok nor reject"},
		{"unquoted", "ok\tage > 1\n", nil, "want a quoted string"},
		{"bad repeat", "ok\t\"a\"*999999999\n", nil, "bad repeat count"},
		{"missing plus", "ok\t\"a\" \"b\"\n", nil, "want +"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
