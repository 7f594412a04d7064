package referral_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"v7", "0190a6f0-8a4b-7c3d-9e2f-0123456789ab", true},
		{"v7 upper case", "0190A6F0-8A4B-7C3D-9E2F-0123456789AB", true},
		{"v4 rejected", "0190a6f0-8a4b-4c3d-9e2f-0123456789ab", false},
		{"wrong variant", "0190a6f0-8a4b-7c3d-1e2f-0123456789ab", false},
		{"braced", "{0190a6f0-8a4b-7c3d-9e2f-0123456789ab}", false},
		{"urn", "urn:uuid:0190a6f0-8a4b-7c3d-9e2f-0123456789ab", false},
		{"no hyphens", "0190a6f08a4b7c3d9e2f0123456789ab", false},
		{"bad hex", "0190a6f0-8a4b-7c3d-9e2f-0123456789ag", false},
		{"empty", "", false},
		{"short", "0190a6f0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := referral.ParseID(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, referral.ErrInvalid)
				require.True(t, id.IsZero())
				return
			}
			require.NoError(t, err)
			require.Equal(t, bytes.ToLower([]byte(tc.in)), []byte(id.String()))
		})
	}
}

func TestIDJSON(t *testing.T) {
	type doc struct {
		ID  referral.ID `json:"id"`
		Opt referral.ID `json:"opt,omitzero"`
	}
	id := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	b, err := json.Marshal(doc{ID: id})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"0190a6f0-8a4b-7c3d-9e2f-0123456789ab"}`, string(b))

	var back doc
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, id, back.ID)

	err = json.Unmarshal([]byte(`{"id":"not-an-id"}`), &back)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.NoError(t, json.Unmarshal([]byte(`{"id":""}`), &back))
	require.True(t, back.ID.IsZero())
}

// stepClock returns a clock that advances by step on every read.
func stepClock(start time.Time, step time.Duration) func() time.Time {
	now := start
	return func() time.Time {
		t := now
		now = now.Add(step)
		return t
	}
}

func TestIDGenerator(t *testing.T) {
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	t.Run("deterministic from clock and entropy", func(t *testing.T) {
		a := referral.NewIDGenerator(stepClock(start, time.Millisecond), bytes.NewReader(bytes.Repeat([]byte{7}, 1000)))
		b := referral.NewIDGenerator(stepClock(start, time.Millisecond), bytes.NewReader(bytes.Repeat([]byte{7}, 1000)))
		for range 20 {
			require.Equal(t, a.MustNew(), b.MustNew())
		}
	})
	t.Run("strictly increasing within a millisecond and across a clock step back", func(t *testing.T) {
		clock := stepClock(start, 0)
		g := referral.NewIDGenerator(clock, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10000)))
		prev := g.MustNew()
		for range 500 {
			id := g.MustNew()
			require.Equal(t, 1, id.Compare(prev))
			_, err := referral.ParseID(id.String())
			require.NoError(t, err, "every generated id must parse as v7")
			prev = id
		}
		back := referral.NewIDGenerator(stepClock(start, -time.Second), nil)
		p := back.MustNew()
		for range 10 {
			id := back.MustNew()
			require.Equal(t, 1, id.Compare(p))
			p = id
		}
	})
	t.Run("encodes its time", func(t *testing.T) {
		g := referral.NewIDGenerator(func() time.Time { return start }, nil)
		require.Equal(t, start, g.MustNew().Time())
	})
	t.Run("entropy failure is an error", func(t *testing.T) {
		g := referral.NewIDGenerator(nil, bytes.NewReader(nil))
		_, err := g.New()
		require.Error(t, err)
	})
}

func TestDate(t *testing.T) {
	d, err := referral.ParseDate("2000-02-29")
	require.NoError(t, err)
	tests := []struct {
		at   string
		want int
	}{
		{"2026-02-28", 25}, {"2026-03-01", 26}, {"2028-02-29", 28}, {"2000-02-29", 0}, {"2001-02-28", 0},
	}
	for _, tc := range tests {
		at, err := time.Parse(time.DateOnly, tc.at)
		require.NoError(t, err)
		require.Equal(t, tc.want, d.AgeAt(at), tc.at)
	}
	for _, bad := range []string{"2025-02-29", "2025-13-01", "25-01-01", "2025-1-1", "yesterday"} {
		_, err := referral.ParseDate(bad)
		require.ErrorIs(t, err, referral.ErrInvalid, bad)
	}
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.Equal(t, `"2000-02-29"`, string(b))
}

func TestValidationErrorShape(t *testing.T) {
	err := referral.Person{}.Validate()
	var ve *referral.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "id", ve.Field)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0190a6f0-8a4b-7c3d-9e2f-0123456789ab", "", "{}", "0190a6f0-8a4b-4c3d-9e2f-0123456789ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := referral.ParseID(s)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		again, err := referral.ParseID(id.String())
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}
