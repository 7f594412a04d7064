package screening_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// changeEverything alters every part of an instrument a caller can reach.
func changeEverything(in *screening.Instrument) {
	in.Title = "changed"
	in.Sources[0] = "changed"
	for i := range in.Items {
		in.Items[i].Text = "changed"
		for j := range in.Items[i].Options {
			in.Items[i].Options[j].Code = "changed"
			if v := in.Items[i].Options[j].Value; v != nil {
				*v = 99
			}
		}
	}
	for i := range in.Rules {
		r := &in.Rules[i]
		for j := range r.Answers {
			r.Answers[j].Codes[0] = "changed"
		}
		if r.TotalAtLeast != nil {
			*r.TotalAtLeast = 99
		}
	}
	if in.Total != nil {
		in.Total.Items[0] = "changed"
	}
	in.Items = in.Items[:1]
}

// TestRegistryHandsOutCopies changes every part of instruments a registry
// handed out, and of one a host gave it, and checks that no other caller and
// no later Lookup sees the change, and that scoring is unchanged.
func TestRegistryHandsOutCopies(t *testing.T) {
	instruments := []struct {
		id      string
		answers string
	}{
		{"hunger-vital-sign", `{"answers": {"88122-7": "LA28397-0", "88123-5": "LA6729-3"}}`},
		{"phq-2", `{"answers": {"44250-9": "LA6571-9", "44255-8": "LA6570-1"}}`},
	}
	sources := []struct {
		name string
		get  func(id string) (*screening.Instrument, error)
	}{
		{"the same registry", nil},
		{"a new default registry", func(id string) (*screening.Instrument, error) {
			return screening.Default().Lookup(id)
		}},
		{"a new builtin registry", func(id string) (*screening.Instrument, error) {
			reg, err := screening.Builtin()
			if err != nil {
				return nil, err
			}
			return reg.Lookup(id)
		}},
		{"the list of a registry", func(id string) (*screening.Instrument, error) {
			for _, in := range screening.Default().List() {
				if in.ID == id {
					return in, nil
				}
			}
			return nil, referral.ErrNotFound
		}},
	}
	for _, inst := range instruments {
		score := func(t *testing.T, in *screening.Instrument) screening.Result {
			resp, err := screening.ParseAnswers(in, []byte(inst.answers))
			require.NoError(t, err)
			return resp.Score()
		}
		t.Run(inst.id, func(t *testing.T) {
			reg := screening.Default()
			first, err := reg.Lookup(inst.id)
			require.NoError(t, err)
			want := score(t, first)
			require.NotEmpty(t, want.PositiveDomains)
			changeEverything(first)

			for _, src := range sources {
				t.Run(src.name, func(t *testing.T) {
					get := src.get
					if get == nil {
						get = reg.Lookup
					}
					in, err := get(inst.id)
					require.NoError(t, err)
					require.NotEqual(t, "changed", in.Title)
					require.NotEqual(t, "changed", in.Sources[0])
					require.Greater(t, len(in.Items), 1)
					require.NotEqual(t, "changed", in.Items[0].Options[0].Code)
					require.Equal(t, want, score(t, in))
				})
			}

			t.Run("an instrument a host added", func(t *testing.T) {
				own, err := screening.Default().Lookup(inst.id)
				require.NoError(t, err)
				own.ID = "own-" + inst.id
				reg, err := screening.NewRegistry(own)
				require.NoError(t, err)
				changeEverything(own)
				got, err := reg.Lookup("own-" + inst.id)
				require.NoError(t, err)
				require.NotEqual(t, "changed", got.Title)
				require.Equal(t, want.PositiveDomains, score(t, got).PositiveDomains)
			})
		})
	}
}
