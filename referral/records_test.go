package referral_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

func validEvent() referral.Event {
	return referral.Event{
		Network: netID, Referral: itemID, Sequence: 2, Type: referral.EventDeclined,
		Actor: referral.Actor{Network: netID, Organization: otherOrg, Role: referral.RoleStaff},
		At:    time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC), From: referral.StatusRequested, To: referral.StatusRejected,
		Reason: "no-capacity", Note: "Full this month.",
	}
}

func TestEventValidate(t *testing.T) {
	require.NoError(t, validEvent().Validate())
	tests := []struct {
		name  string
		edit  func(e *referral.Event)
		field string
	}{
		{"no network", func(e *referral.Event) { e.Network = referral.NilID }, "network_id"},
		{"no referral", func(e *referral.Event) { e.Referral = referral.NilID }, "referral_id"},
		{"sequence zero", func(e *referral.Event) { e.Sequence = 0 }, "sequence"},
		{"unknown type", func(e *referral.Event) { e.Type = "poked" }, "type"},
		{"actor without role", func(e *referral.Event) { e.Actor.Role = "" }, "actor.role"},
		{"actor in another network", func(e *referral.Event) { e.Actor.Network = personID }, "actor.network_id"},
		{"no time", func(e *referral.Event) { e.At = time.Time{} }, "at"},
		{"unknown from", func(e *referral.Event) { e.From = "open" }, "from"},
		{"unknown to", func(e *referral.Event) { e.To = "" }, "to"},
		{"reason shape", func(e *referral.Event) { e.Reason = "No capacity" }, "reason"},
		{"note with control characters", func(e *referral.Event) { e.Note = "\x07" }, "note"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.edit(&e)
			requireField(t, e.Validate(), tc.field)
		})
	}
}

func TestRecordValidate(t *testing.T) {
	total := 4.0
	screening := referral.Screening{
		ID: itemID, Network: netID, Person: personID, Instrument: "phq-9", At: time.Now(), Total: &total,
		PositiveDomains: []referral.Domain{referral.MentalHealth},
		Needs:           []referral.Need{{Domain: referral.MentalHealth, Urgency: referral.Emergent}},
	}
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"network", referral.Network{ID: netID, Name: "County"}.Validate(), ""},
		{"network without name", referral.Network{ID: netID}.Validate(), "name"},
		{"organization", referral.Organization{ID: orgID, Network: netID, Name: "Clinic"}.Validate(), ""},
		{"organization without network", referral.Organization{ID: orgID, Name: "Clinic"}.Validate(), "network_id"},
		{"organization with a control character", referral.Organization{ID: orgID, Network: netID, Name: "Clinic", Phone: "\x00"}.Validate(), "phone"},
		{"screening", screening.Validate(), ""},
		{"screening without instrument", func() error { s := screening; s.Instrument = ""; return s.Validate() }(), "instrument"},
		{"screening without time", func() error { s := screening; s.At = time.Time{}; return s.Validate() }(), "at"},
		{"screening with unknown domain", func() error {
			s := screening
			s.PositiveDomains = []referral.Domain{"x"}
			return s.Validate()
		}(), "positive_domains[0]"},
		{"screening with bad need", func() error {
			s := screening
			s.Needs = []referral.Need{{Domain: referral.MentalHealth}}
			return s.Validate()
		}(), "needs[0].urgency"},
		{"screening with NUL in an answer", func() error {
			s := screening
			s.Answers = map[string][]string{"44250-9": {"LA6568-5\x00"}}
			return s.Validate()
		}(), "answers"},
		{"screening with an empty item id", func() error {
			s := screening
			s.Answers = map[string][]string{" ": {"LA6568-5"}}
			return s.Validate()
		}(), "answers"},
		{"screening with a bad flag", func() error { s := screening; s.Flags = []string{"\x01"}; return s.Validate() }(), "flags[0]"},
		{"screening with a bad missing item", func() error { s := screening; s.Missing = []string{""}; return s.Validate() }(), "missing[0]"},
		{"screening with a bad band", func() error { s := screening; s.Band = "\x00"; return s.Validate() }(), "band"},
		{"screening with a NaN total", func() error {
			s := screening
			nan := math.NaN()
			s.Total = &nan
			return s.Validate()
		}(), "total"},
		{"outcome", referral.Outcome{Code: "got-help"}.Validate(), ""},
		{"outcome without code", referral.Outcome{}.Validate(), "code"},
		{"code shape", referral.ValidateCode("reason", "-lead"), "reason"},
		{"missing id", referral.NilID.Require("person_id"), "person_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				require.NoError(t, tc.err)
				return
			}
			requireField(t, tc.err, tc.field)
		})
	}
}

func TestStatuses(t *testing.T) {
	terminal := map[referral.Status]bool{
		referral.StatusCompleted: true, referral.StatusRejected: true, referral.StatusCancelled: true,
		referral.StatusFailed: true, referral.StatusEnteredInError: true,
	}
	// SDOHCCValueSetReferralTaskStatus (SDOH Clinical Care IG 2.3.0,
	// input/fsh/valuesets/SDOHCCValueSetReferralTaskStatus.fsh): FHIR's Task
	// statuses but ready and received.
	require.Len(t, referral.Statuses(), 10)
	for _, s := range referral.Statuses() {
		require.NoError(t, s.Validate())
		require.Equal(t, terminal[s], s.Terminal(), s)
	}
	for _, s := range []referral.Status{"closed", "received", "ready"} {
		require.ErrorIs(t, s.Validate(), referral.ErrInvalid, s)
	}
}

func TestBusinessStatuses(t *testing.T) {
	within := map[referral.BusinessStatus][]referral.Status{
		"":                               referral.Statuses(),
		referral.BusinessAcknowledged:    {referral.StatusRequested},
		referral.BusinessWaitlisted:      {referral.StatusAccepted},
		referral.BusinessScheduled:       {referral.StatusAccepted, referral.StatusInProgress},
		referral.BusinessNoShow:          {referral.StatusAccepted, referral.StatusInProgress},
		referral.BusinessCancelRequested: {referral.StatusAccepted, referral.StatusInProgress, referral.StatusOnHold},
		referral.BusinessCancelRefused:   {referral.StatusAccepted, referral.StatusInProgress, referral.StatusOnHold},
	}
	require.Len(t, referral.BusinessStatuses(), len(within)-1)
	for _, b := range append(referral.BusinessStatuses(), "") {
		require.NoError(t, b.Validate())
		for _, s := range referral.Statuses() {
			require.Equal(t, slices.Contains(within[b], s), b.Within(s), "%s within %s", b, s)
		}
	}
	require.ErrorIs(t, referral.BusinessStatus("received").Validate(), referral.ErrInvalid)
	require.False(t, referral.BusinessStatus("received").Within(referral.StatusRequested))
}

func TestReferralAndScreeningClonesAreDeep(t *testing.T) {
	r := validReferral()
	r.Outcome = &referral.Outcome{Code: "got-help"}
	c := r.Clone()
	c.Needs[0].Domain = referral.Homelessness
	c.Outcome.Code = "other"
	require.Equal(t, referral.FoodInsecurity, r.Needs[0].Domain)
	require.Equal(t, "got-help", r.Outcome.Code)

	total := 3.0
	s := referral.Screening{Total: &total, Flags: []string{"a"}, Answers: map[string][]string{"x": {"LA1-1"}}}
	sc := s.Clone()
	*sc.Total = 9
	sc.Flags[0] = "b"
	sc.Answers["x"][0] = "LA2-2"
	require.Equal(t, 3.0, *s.Total)
	require.Equal(t, "a", s.Flags[0])
	require.Equal(t, "LA2-2", sc.Answers["x"][0])
	require.Equal(t, "LA1-1", s.Answers["x"][0])
}

func TestDomainsListed(t *testing.T) {
	all := referral.Domains()
	require.NotEmpty(t, all)
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].Code, all[i].Code, "sorted by code")
	}
}

func TestDateOrderAndText(t *testing.T) {
	a := referral.Date{Year: 2020, Month: time.March, Day: 1}
	b := referral.Date{Year: 2020, Month: time.March, Day: 2}
	require.True(t, a.Before(b))
	require.False(t, b.Before(a))
	require.False(t, a.Before(a))
	require.Equal(t, "", referral.Date{}.String())
	var d referral.Date
	require.NoError(t, d.UnmarshalText(nil))
	require.True(t, d.IsZero())
	require.ErrorIs(t, d.UnmarshalText([]byte("2020-02-30")), referral.ErrInvalid)
}
