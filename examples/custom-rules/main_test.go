package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// TestRun runs exactly what `go run` runs and checks the error lines and the
// explanations a reader relies on.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, servicesJSON))
	got := out.String()
	for _, want := range []string{
		// Draft errors with positions, and the caret under the misspelled name.
		"    | age >= 65 && (county == \"Franklin\"\n    |                                  ^\n    1:33: unexpected token EOF\n",
		"    |   incom_annual < 30000\n    |   ^\n    2:2: unknown name incom_annual\n",
		"    | age + 1\n    expected bool, but got int\n",
		"    1:4: invalid operation: == (mismatched types int and string)\n",
		"    1:0: unknown name now\n",
		"(6307 bytes)\n    rule is longer than the limit\n",
		// A directory with a bad rule is refused, naming the service.
		"service 019c0000-0000-7000-8000-000000000102: eligibility rule: unknown name incom_annual (line 2, column 2)",
		"directory loaded: 7 services, 7 distinct rules compiled",
		// Walter: eligible by age and by being a veteran. He gave no income, but
		// lives alone, so the pantry's rule is false whatever his income is; his
		// school district is unknown, so the backpack program cannot decide.
		"  match     Golden Years Home-Delivered Meals      score 5.25  serves the county area\n",
		"  match     Veterans and Elders Ride Line          score 4.75  serves the virtual area\n",
		"  excluded  Eastside Family Pantry                 rule-failed: clause is false: household_size >= 2\n",
		"  excluded  Weekend Backpack Program               unknown-fact: eligibility rule needs attributes[\"school_district\"]\n",
		// Rosa: every rule written for her situation holds; the seniors' service does not.
		"  match     Emergency Utility Fund                 score 6.58  2.2 km away\n",
		"  match     Centro Latino Food and Benefits Help   score 6.36  3.0 km away\n",
		"  match     Weekend Backpack Program               score 4.75  serves the county area\n",
		"  excluded  Golden Years Home-Delivered Meals      rule-failed: rule is false: age >= 65\n",
		// Dana: over the income limit and outside the county.
		"Dana: 45, household of one on $52,000, lives in Delaware County; worried about food and rent\n  no match\n",
		"  excluded  Eastside Family Pantry                 rule-failed: clause is false: fpl_percent <= 200\n",
		"  excluded  Franklin County Rent Relief            rule-failed: rule is false: county == \"Franklin\"\n",
	} {
		require.Contains(t, got, want)
	}
}

// TestDraftsRejected checks that every draft is refused with a *RuleError
// wrapping referral.ErrInvalid, positioned wherever expr can point at the
// mistake (a non-boolean result and an over-long text have no single spot).
func TestDraftsRejected(t *testing.T) {
	want := map[string]struct{ line, column int }{
		"unbalanced parenthesis":             {1, 33},
		"misspelled fact":                    {2, 2},
		"not a yes/no question":              {0, 0},
		"number compared with text":          {1, 4},
		"reads the clock":                    {1, 0},
		"pasted every zip code in the state": {0, 0},
	}
	require.Len(t, drafts, len(want))
	for _, d := range drafts {
		t.Run(d.mistake, func(t *testing.T) {
			err := matching.CheckRule(d.rule)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var re *matching.RuleError
			require.True(t, errors.As(err, &re))
			require.NotEmpty(t, re.Message)
			pos, ok := want[d.mistake]
			require.True(t, ok)
			require.Equal(t, pos.line, re.Line)
			require.Equal(t, pos.column, re.Column)
		})
	}
}

// TestServicesValid checks that every service in services.json is valid and
// its rule passes the same check the drafts fail.
func TestServicesValid(t *testing.T) {
	services, err := load(servicesJSON)
	require.NoError(t, err)
	require.Len(t, services, 7)
	for _, s := range services {
		require.NoError(t, s.Validate(), s.Name)
		require.NoError(t, matching.CheckRule(s.Eligibility), s.Name)
	}
}

// TestLoadRejects checks that a directory file with a problem is refused with
// ErrInvalid rather than loaded in part.
func TestLoadRejects(t *testing.T) {
	for name, data := range map[string]string{
		"malformed":     `{"network_id": "019c0000-0000-7000-8000-000000000001", "services": [`,
		"unknown field": `{"network_id": "019c0000-0000-7000-8000-000000000001", "services": [], "servises": []}`,
		"no network":    `{"services": [{"name": "x"}]}`,
		"no services":   `{"network_id": "019c0000-0000-7000-8000-000000000001", "services": []}`,
		"trailing data": `{"network_id": "019c0000-0000-7000-8000-000000000001", "services": [{}]} {}`,
	} {
		_, err := load([]byte(data))
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}
}

// TestRunRejectsBadDirectory checks that run stops on a directory with a bad
// rule, naming the service, before matching anyone.
func TestRunRejectsBadDirectory(t *testing.T) {
	bad := bytes.Replace(servicesJSON, []byte(`"eligibility": "age >= 65"`), []byte(`"eligibility": "age >= sixty_five"`), 1)
	require.NotEqual(t, servicesJSON, bad)
	var out bytes.Buffer
	err := run(context.Background(), &out, bad)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "019c0000-0000-7000-8000-000000000101")
	require.Empty(t, out.String())
}

// FuzzLoad checks that any directory file either loads, with every service in
// the file's network, or is refused with ErrInvalid; it never panics.
func FuzzLoad(f *testing.F) {
	f.Add(servicesJSON)
	f.Add([]byte(`{"network_id": "019c0000-0000-7000-8000-000000000001", "services": [{}]}`))
	f.Add([]byte(`{"network_id": "", "services": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		services, err := load(data)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NotEmpty(t, services)
		for _, s := range services {
			require.Equal(t, services[0].Network, s.Network)
			require.False(t, s.Network.IsZero())
		}
	})
}
