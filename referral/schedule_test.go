package referral_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/teambition/rrule-go"

	"github.com/refkit/refkit/referral"
)

func at(t *testing.T, zone string, y int, m time.Month, d, hh, mm int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	return time.Date(y, m, d, hh, mm, 0, 0, loc)
}

func TestScheduleOpenAtRules(t *testing.T) {
	chicago := "America/Chicago"
	tests := []struct {
		name string
		s    referral.Schedule
		at   time.Time
		want bool
	}{
		{"weekly open", referral.Schedule{ByDay: []string{"TU", "TH"}, OpensAt: "09:00", ClosesAt: "13:00", Timezone: chicago}, at(t, chicago, 2026, 3, 3, 9, 30), true},
		{"weekly other day", referral.Schedule{ByDay: []string{"TU", "TH"}, OpensAt: "09:00", ClosesAt: "13:00", Timezone: chicago}, at(t, chicago, 2026, 3, 4, 9, 30), false},
		{"day codes in any case", referral.Schedule{ByDay: []string{"tu"}, OpensAt: "09:00", ClosesAt: "13:00", Timezone: chicago}, at(t, chicago, 2026, 3, 3, 9, 30), true},
		{"seconds count", referral.Schedule{ByDay: []string{"TU"}, OpensAt: "09:00:30", ClosesAt: "13:00", Timezone: chicago}, at(t, chicago, 2026, 3, 3, 9, 0).Add(29 * time.Second), false},
		{"no day list is every day", referral.Schedule{OpensAt: "09:00", ClosesAt: "17:00"}, time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), true},
		{"all day", referral.Schedule{ByDay: []string{"SU"}}, time.Date(2026, 3, 8, 23, 59, 0, 0, time.UTC), true},
		{"overnight, evening", referral.Schedule{ByDay: []string{"FR"}, OpensAt: "22:00", ClosesAt: "06:00"}, time.Date(2026, 3, 6, 23, 0, 0, 0, time.UTC), true},
		{"overnight, next morning", referral.Schedule{ByDay: []string{"FR"}, OpensAt: "22:00", ClosesAt: "06:00"}, time.Date(2026, 3, 7, 5, 59, 0, 0, time.UTC), true},
		{"overnight, not the morning before", referral.Schedule{ByDay: []string{"FR"}, OpensAt: "22:00", ClosesAt: "06:00"}, time.Date(2026, 3, 6, 5, 0, 0, 0, time.UTC), false},
		{"until midnight", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "18:00", ClosesAt: "24:00"}, time.Date(2026, 3, 2, 23, 59, 59, 0, time.UTC), true},
		{"offset on the times", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00-05:00", ClosesAt: "10:00-05:00"}, time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC), true},
		{"fixed zone and agreeing offset", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00-05:00", ClosesAt: "10:00-05:00", Timezone: "Etc/GMT+5"}, time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC), true},
		{"half-hour zone", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00", ClosesAt: "10:00", Timezone: "+05:30"}, time.Date(2026, 3, 2, 3, 45, 0, 0, time.UTC), true},
		{"daylight saving time", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00", ClosesAt: "10:00", Timezone: chicago}, time.Date(2026, 7, 6, 14, 30, 0, 0, time.UTC), true},
		{"before valid_from", referral.Schedule{ByDay: []string{"MO"}, ValidFrom: "2026-03-09"}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), false},
		{"after valid_to", referral.Schedule{ByDay: []string{"MO"}, ValidTo: "2005-01-01"}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), false},
		{"within validity", referral.Schedule{ByDay: []string{"MO"}, ValidFrom: "2026-03-02", ValidTo: "2026-03-02"}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), true},
		{"fortnightly on", referral.Schedule{Freq: referral.Weekly, Interval: 2, ByDay: []string{"MO"}, DTStart: "2026-01-05"}, time.Date(2026, 1, 19, 12, 0, 0, 0, time.UTC), true},
		{"fortnightly off", referral.Schedule{Freq: referral.Weekly, Interval: 2, ByDay: []string{"MO"}, DTStart: "2026-01-05"}, time.Date(2026, 1, 12, 12, 0, 0, 0, time.UTC), false},
		{"first Monday", referral.Schedule{Freq: referral.Monthly, ByDay: []string{"1MO"}}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), true},
		{"not the second Monday", referral.Schedule{Freq: referral.Monthly, ByDay: []string{"1MO"}}, time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC), false},
		{"last Friday", referral.Schedule{Freq: referral.Monthly, ByDay: []string{"-1FR"}}, time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC), true},
		{"last day of the month", referral.Schedule{Freq: referral.Monthly, ByMonthDay: []int{-1}}, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), true},
		{"monthday and weekday both", referral.Schedule{Freq: referral.Monthly, ByMonthDay: []int{13}, ByDay: []string{"FR"}}, time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC), true},
		{"year day", referral.Schedule{Freq: referral.Yearly, ByYearDay: []int{-1}}, time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), true},
		{"week number", referral.Schedule{Freq: referral.Yearly, ByWeekNo: []int{1}, ByDay: []string{"MO"}}, time.Date(2025, 12, 29, 12, 0, 0, 0, time.UTC), true},
		{"until a date", referral.Schedule{ByDay: []string{"MO"}, Until: "2026-03-01"}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), false},
		{"until a time", referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00", ClosesAt: "17:00", Until: "2026-03-02T08:00:00Z"}, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), false},
		{"count reached", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, DTStart: "2026-01-05", Count: 2}, time.Date(2026, 1, 19, 12, 0, 0, 0, time.UTC), false},
		{"count not reached", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, DTStart: "2026-01-05", Count: 2}, time.Date(2026, 1, 12, 12, 0, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.s.Validate())
			c, err := tc.s.Compile()
			require.NoError(t, err)
			require.Equal(t, tc.want, c.OccursAt(tc.at))
			require.Equal(t, tc.want, tc.s.OpenAt(tc.at))
		})
	}
}

func TestScheduleNotEvaluated(t *testing.T) {
	tests := []struct {
		name  string
		s     referral.Schedule
		field string
	}{
		{"hourly", referral.Schedule{Freq: "HOURLY"}, "freq"},
		{"interval without freq", referral.Schedule{Interval: 2}, "interval"},
		{"interval without dtstart", referral.Schedule{Freq: referral.Weekly, Interval: 2, ByDay: []string{"MO"}}, "dtstart"},
		{"count without dtstart", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, Count: 3}, "dtstart"},
		{"weekly without day or dtstart", referral.Schedule{Freq: referral.Weekly}, "dtstart"},
		{"monthly without day or dtstart", referral.Schedule{Freq: referral.Monthly}, "dtstart"},
		{"ordinal in a weekly rule", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"1MO"}}, "byday"},
		{"ordinal with byweekno", referral.Schedule{Freq: referral.Yearly, ByDay: []string{"1MO"}, ByWeekNo: []int{3}}, "byday"},
		{"bymonthday in a weekly rule", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, ByMonthDay: []int{2}}, "bymonthday"},
		{"byyearday in a monthly rule", referral.Schedule{Freq: referral.Monthly, ByYearDay: []int{2}}, "byyearday"},
		{"byweekno in a weekly rule", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, ByWeekNo: []int{2}}, "byweekno"},
		{"count and until", referral.Schedule{Freq: referral.Weekly, ByDay: []string{"MO"}, DTStart: "2026-01-05", Count: 2, Until: "2026-02-01"}, "count"},
		{"count never reached", referral.Schedule{Freq: referral.Yearly, ByYearDay: []int{366}, ByDay: []string{"MO"}, DTStart: "2026-01-01", Count: 100}, "count"},
		{"offset against a zone with DST", referral.Schedule{OpensAt: "09:00-05:00", ClosesAt: "10:00-05:00", Timezone: "America/New_York"}, "opens_at"},
		{"unreadable", referral.Schedule{Unreadable: "interval must be a whole number"}, "schedule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Compile()
			requireField(t, err, tc.field)
			require.False(t, tc.s.OpenAt(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)), "a schedule refkit cannot evaluate is never open")
		})
	}
	// The official example's combination is kept but never evaluated.
	official := referral.Schedule{Freq: referral.Weekly, ByDay: []string{"TH", "FR"}, ByWeekNo: []int{41, 42}, ByMonthDay: []int{2, 3, 4}, ByYearDay: []int{2, 3, 4}}
	require.NoError(t, official.Validate(), "well-formed, so a record can hold it")
	_, err := official.Compile()
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestScheduleValidate(t *testing.T) {
	valid := referral.Schedule{ByDay: []string{"MO"}, OpensAt: "09:00", ClosesAt: "17:00"}
	tests := []struct {
		name  string
		edit  func(s *referral.Schedule)
		field string
	}{
		{"bad day", func(s *referral.Schedule) { s.ByDay = []string{"MON"} }, "byday[0]"},
		{"ordinal zero", func(s *referral.Schedule) { s.ByDay = []string{"0MO"} }, "byday[0]"},
		{"month day 32", func(s *referral.Schedule) { s.ByMonthDay = []int{32} }, "bymonthday[0]"},
		{"year day 0", func(s *referral.Schedule) { s.ByYearDay = []int{0} }, "byyearday[0]"},
		{"week 54", func(s *referral.Schedule) { s.ByWeekNo = []int{54} }, "byweekno[0]"},
		{"list too long", func(s *referral.Schedule) { s.ByMonthDay = make([]int, 401) }, "bymonthday"},
		{"huge value", func(s *referral.Schedule) { s.ByYearDay = []int{1 << 40} }, "byyearday[0]"},
		{"negative interval", func(s *referral.Schedule) { s.Interval = -1 }, "interval"},
		{"huge count", func(s *referral.Schedule) { s.Count = 1 << 40 }, "count"},
		{"unknown freq", func(s *referral.Schedule) { s.Freq = "FORTNIGHTLY" }, "freq"},
		{"bad wkst", func(s *referral.Schedule) { s.WeekStart = "MON" }, "wkst"},
		{"bad date", func(s *referral.Schedule) { s.ValidFrom = "2026-02-30" }, "valid_from"},
		{"bad until", func(s *referral.Schedule) { s.Until = "soon" }, "until"},
		{"24:00 opening", func(s *referral.Schedule) { s.OpensAt = "24:00" }, "opens_at"},
		{"minute 60", func(s *referral.Schedule) { s.ClosesAt = "17:60" }, "closes_at"},
		{"mixed offsets", func(s *referral.Schedule) { s.OpensAt, s.ClosesAt = "09:00Z", "17:00-05:00" }, "closes_at"},
		{"unknown zone", func(s *referral.Schedule) { s.Timezone = "Mars/Olympus" }, "timezone"},
		{"Local zone", func(s *referral.Schedule) { s.Timezone = "Local" }, "timezone"},
		{"bad offset", func(s *referral.Schedule) { s.Timezone = "+25:00" }, "timezone"},
		{"control character", func(s *referral.Schedule) { s.Notes = "a\x00b" }, "notes"},
		{"oversized description", func(s *referral.Schedule) { s.Description = string(make([]byte, 10001)) }, "description"},
	}
	require.NoError(t, valid.Validate())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := valid
			tc.edit(&s)
			requireField(t, s.Validate(), tc.field)
		})
	}
	// An unreadable schedule is kept as the source gave it: only sizes count.
	require.NoError(t, referral.Schedule{ID: "s1", Unreadable: "byday must be a string"}.Validate())
}

func TestHours(t *testing.T) {
	weekdays := referral.Schedule{ByDay: []string{"MO", "TU", "WE", "TH", "FR"}, OpensAt: "09:00", ClosesAt: "17:00"}
	holiday := referral.Schedule{Closed: true, ValidFrom: "2026-12-25", ValidTo: "2026-12-25"}
	unknown := referral.Schedule{Freq: "HOURLY"}
	unknownClosure := referral.Schedule{Freq: "HOURLY", Closed: true}
	friday := time.Date(2026, 12, 25, 10, 0, 0, 0, time.UTC)   // Christmas, a Friday
	thursday := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC) // an ordinary weekday
	evening := time.Date(2026, 12, 24, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		scs   []referral.Schedule
		at    time.Time
		want  referral.Openness
		probs int
	}{
		{"none", nil, thursday, referral.OpenUnknown, 0},
		{"open", []referral.Schedule{weekdays}, thursday, referral.OpenNow, 0},
		{"closed hours", []referral.Schedule{weekdays}, evening, referral.ClosedNow, 0},
		{"holiday closes", []referral.Schedule{weekdays, holiday}, friday, referral.ClosedNow, 0},
		{"holiday elsewhere", []referral.Schedule{weekdays, holiday}, thursday, referral.OpenNow, 0},
		{"only a closure says nothing of opening", []referral.Schedule{holiday}, thursday, referral.OpenUnknown, 0},
		{"an unevaluable opening might cover it", []referral.Schedule{weekdays, unknown}, evening, referral.OpenUnknown, 1},
		{"an unevaluable closure might close it", []referral.Schedule{weekdays, unknownClosure}, thursday, referral.OpenUnknown, 1},
		{"a known closure wins", []referral.Schedule{weekdays, unknown, holiday}, friday, referral.ClosedNow, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := referral.CompileHours(tc.scs)
			require.Equal(t, tc.want, h.At(tc.at))
			require.Len(t, h.Problems(), tc.probs)
			require.Equal(t, len(tc.scs) == 0, h.IsZero())
		})
	}
	var zero referral.Hours
	require.Equal(t, referral.OpenUnknown, zero.At(thursday))
}

func TestZoneOffsets(t *testing.T) {
	for _, tc := range []struct {
		secs int
		name string
	}{{0, "UTC"}, {-6 * 3600, "Etc/GMT+6"}, {3 * 3600, "Etc/GMT-3"}, {14 * 3600, "Etc/GMT-14"}, {5*3600 + 1800, "+05:30"}, {-(3*3600 + 1800), "-03:30"}, {-13 * 3600, "-13:00"}} {
		name, ok := referral.OffsetZone(tc.secs)
		require.True(t, ok)
		require.Equal(t, tc.name, name)
		back, ok := referral.ZoneOffset(name)
		require.True(t, ok, name)
		require.Equal(t, tc.secs, back, name)
	}
	for _, bad := range []int{19 * 3600, 30} {
		_, ok := referral.OffsetZone(bad)
		require.False(t, ok)
	}
	_, ok := referral.ZoneOffset("America/Chicago")
	require.False(t, ok, "a zone with DST has no fixed offset")
	std, ok := referral.StandardOffset("America/Chicago")
	require.True(t, ok)
	require.Equal(t, -6*3600, std)
}

// TestScheduleMatchesRRule checks the evaluator against an independent
// iCalendar implementation (teambition/rrule-go, a port of python-dateutil)
// over random rules: every day either both or neither say the rule occurs.
func TestScheduleMatchesRRule(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 3))
	freqs := []struct {
		ours   referral.Frequency
		theirs rrule.Frequency
	}{{referral.Daily, rrule.DAILY}, {referral.Weekly, rrule.WEEKLY}, {referral.Monthly, rrule.MONTHLY}, {referral.Yearly, rrule.YEARLY}}
	days := []rrule.Weekday{rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU}
	codes := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	rules := 400
	if testing.Short() {
		rules = 80
	}
	for n := range rules {
		f := freqs[r.IntN(len(freqs))]
		start := time.Date(2020+r.IntN(7), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		ours := referral.Schedule{Freq: f.ours, DTStart: start.Format(time.DateOnly)}
		opt := rrule.ROption{Freq: f.theirs, Dtstart: start}
		if r.IntN(2) == 0 {
			ours.Interval = 1 + r.IntN(4)
			opt.Interval = ours.Interval
		}
		wk := r.IntN(7)
		ours.WeekStart, opt.Wkst = codes[wk], days[wk]
		ordinals := f.ours == referral.Monthly || f.ours == referral.Yearly
		weekno := f.ours == referral.Yearly && r.IntN(3) == 0
		if weekno {
			for range 1 + r.IntN(2) {
				w := 1 + r.IntN(52)
				if r.IntN(4) == 0 {
					w = -w
				}
				ours.ByWeekNo = append(ours.ByWeekNo, w)
				opt.Byweekno = append(opt.Byweekno, w)
			}
		}
		if r.IntN(2) == 0 {
			// A BYDAY list is either all ordinals or all plain days: with both,
			// python-dateutil (and so rrule-go) keeps only the days both select,
			// where RFC 5545 lists a set (the union, as refkit reads it).
			withOrdinals := ordinals && !weekno && r.IntN(2) == 0
			for range 1 + r.IntN(3) {
				d := r.IntN(7)
				if withOrdinals {
					k := []int{1, 2, 3, 4, -1, -2}[r.IntN(6)]
					ours.ByDay = append(ours.ByDay, strconv.Itoa(k)+codes[d])
					opt.Byweekday = append(opt.Byweekday, days[d].Nth(k))
				} else {
					ours.ByDay = append(ours.ByDay, codes[d])
					opt.Byweekday = append(opt.Byweekday, days[d])
				}
			}
		}
		if f.ours != referral.Weekly && r.IntN(3) == 0 {
			for range 1 + r.IntN(2) {
				d := 1 + r.IntN(31)
				if r.IntN(3) == 0 {
					d = -d
				}
				ours.ByMonthDay = append(ours.ByMonthDay, d)
				opt.Bymonthday = append(opt.Bymonthday, d)
			}
		}
		if f.ours == referral.Yearly && r.IntN(3) == 0 {
			d := 1 + r.IntN(366)
			if r.IntN(3) == 0 {
				d = -d
			}
			ours.ByYearDay = append(ours.ByYearDay, d)
			opt.Byyearday = append(opt.Byyearday, d)
		}
		switch r.IntN(3) {
		case 0:
			ours.Count = 1 + r.IntN(12)
			opt.Count = ours.Count
		case 1:
			until := start.AddDate(0, r.IntN(30), r.IntN(28))
			ours.Until = until.Format(time.DateOnly)
			opt.Until = until
		}
		label := fmt.Sprintf("rule %d %+v", n, ours)
		c, err := ours.Compile()
		if err != nil && ours.Count > 0 {
			// A count a sparse rule does not reach within a lifetime is
			// refused rather than searched for at every evaluation.
			requireField(t, err, "count")
			continue
		}
		require.NoError(t, err, label)
		rr, err := rrule.NewRRule(opt)
		require.NoError(t, err, label)
		end := start.AddDate(4, 0, 0)
		occurs := map[string]bool{}
		for _, o := range rr.Between(start.AddDate(0, 0, -1), end, true) {
			occurs[o.Format(time.DateOnly)] = true
		}
		for day := start.AddDate(0, 0, -3); day.Before(end); day = day.AddDate(0, 0, 1+r.IntN(3)) {
			noon := day.Add(12 * time.Hour)
			require.Equal(t, occurs[day.Format(time.DateOnly)], c.OccursAt(noon), "%s on %s", label, day.Format(time.DateOnly))
		}
	}
}

// FuzzSchedule feeds arbitrary schedules to the parser and evaluator: they
// validate or fail with ErrInvalid, and evaluate without panicking, in bounded
// time whatever the rule.
func FuzzSchedule(f *testing.F) {
	for _, s := range []referral.Schedule{
		{ByDay: []string{"MO", "WE"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Chicago"},
		{Freq: referral.Monthly, ByDay: []string{"1MO", "-1FR"}, DTStart: "2026-01-01", Count: 5},
		{Freq: referral.Yearly, ByWeekNo: []int{1, -1}, ByYearDay: []int{100}, ByMonthDay: []int{-1}, Until: "2030-01-01T00:00:00Z"},
		{Freq: referral.Weekly, Interval: 3, DTStart: "2026-01-05", OpensAt: "22:00+05:30", ClosesAt: "06:00+05:30"},
	} {
		b, err := json.Marshal(s)
		require.NoError(f, err)
		f.Add(b, int64(1767225600))
	}
	f.Fuzz(func(t *testing.T, data []byte, unix int64) {
		var s referral.Schedule
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if err := s.Validate(); err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		c, err := s.Compile()
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		when := time.Unix(unix%(1<<34), 0)
		c.OccursAt(when)
		referral.CompileHours([]referral.Schedule{s}).At(when)
	})
}

// BenchmarkHoursAt measures one "open at" question: a plain weekly timetable
// (the fast path) and a monthly rule with ordinals, dates and a zone (evaluated
// in full).
func BenchmarkHoursAt(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    referral.Schedule
	}{
		{"weekly", referral.Schedule{ByDay: []string{"MO", "WE", "FR"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Chicago"}},
		{"monthly", referral.Schedule{Freq: referral.Monthly, ByDay: []string{"1SA", "-1SA"}, DTStart: "2025-01-04", Until: "2027-06-30",
			ValidFrom: "2025-01-01", OpensAt: "10:00", ClosesAt: "12:00", Timezone: "America/Chicago"}},
	} {
		h := referral.CompileHours([]referral.Schedule{bc.s})
		when := time.Date(2026, 3, 7, 16, 30, 0, 0, time.UTC)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h.At(when) == referral.OpenUnknown {
					b.Fatal("unknown")
				}
			}
		})
	}
}
