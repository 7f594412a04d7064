package referral

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// Frequency is the iCalendar (RFC 5545) FREQ of a schedule's recurrence.
type Frequency string

// Frequencies refkit evaluates. HSDS 3.0 names WEEKLY and MONTHLY; DAILY and
// YEARLY are the iCalendar frequencies its byyearday and byweekno fields need.
const (
	Daily   Frequency = "DAILY"
	Weekly  Frequency = "WEEKLY"
	Monthly Frequency = "MONTHLY"
	Yearly  Frequency = "YEARLY"
)

// Schedule is when a service (or a location) is open: an HSDS 3.0 schedule, whose
// recurrence is the part of an iCalendar (RFC 5545) RRULE that HSDS carries, and
// whose opening window is opens_at to closes_at on each day the recurrence
// selects. With Closed set the schedule names closures instead (holidays, a
// week off): HSDS 3.0 has no structured closures, so refkit marks a closure
// schedule with an attribute of its own taxonomy when it writes HSDS.
//
// Fields keep the values as the source wrote them, so that a directory read from
// HSDS is written back unchanged; Compile reads them. A schedule refkit cannot
// evaluate (see Compile) is kept, and its hours are unknown, never guessed.
type Schedule struct {
	// ID is the schedule's id in the source directory, kept so exports reuse it.
	ID string `json:"id,omitempty"`
	// Freq is the recurrence frequency. Empty means every day the other rule
	// parts allow, so a plain weekly timetable needs only ByDay.
	Freq Frequency `json:"freq,omitempty"`
	// Interval is how many periods of Freq lie between occurrences (2 with
	// WEEKLY is fortnightly); 0 means 1.
	Interval int `json:"interval,omitempty"`
	// ByDay lists RFC 5545 day codes ("MO".."SU"), for monthly and yearly rules
	// with an ordinal ("1MO" the first Monday, "-1FR" the last Friday).
	ByDay []string `json:"byday,omitempty"`
	// ByMonthDay lists days of the month, negative from the end (-1 the last).
	ByMonthDay []int `json:"bymonthday,omitempty"`
	// ByWeekNo lists weeks of the year (yearly rules), negative from the end.
	ByWeekNo []int `json:"byweekno,omitempty"`
	// ByYearDay lists days of the year (yearly rules), negative from the end.
	ByYearDay []int `json:"byyearday,omitempty"`
	// WeekStart is the RFC 5545 WKST day code; empty means MO.
	WeekStart string `json:"wkst,omitempty"`
	// Count ends the recurrence after that many occurrences; 0 means no limit.
	Count int `json:"count,omitempty"`
	// DTStart is the date of the first occurrence ("2026-01-05"; a date-time is
	// read for its date). Rules with an interval or a count need it.
	DTStart string `json:"dtstart,omitempty"`
	// Until is the last day the recurrence may occur (a date, or a date-time
	// that the last opening must not start after).
	Until string `json:"until,omitempty"`
	// ValidFrom and ValidTo bound, inclusively, the dates the schedule applies.
	ValidFrom string `json:"valid_from,omitempty"`
	ValidTo   string `json:"valid_to,omitempty"`
	// OpensAt and ClosesAt are wall-clock times "HH:MM" or "HH:MM:SS", optionally
	// with "Z" or a UTC offset "±HH:MM" (both alike). ClosesAt may be "24:00"; a
	// closing time at or before the opening one closes the next day. Both empty
	// means all day.
	OpensAt  string `json:"opens_at,omitempty"`
	ClosesAt string `json:"closes_at,omitempty"`
	// Timezone is the zone of the times and dates: an IANA name, or a fixed
	// offset "±HH:MM" (HSDS gives whole-hour offsets, read as Etc/GMT∓N). Empty
	// means UTC, HSDS's default, unless the times carry an offset.
	Timezone string `json:"timezone,omitempty"`
	// Closed makes the schedule a closure: its occurrences close the service even
	// where another schedule opens it.
	Closed bool `json:"closed,omitempty"`
	// Description, Notes and AttendingType are shown to people as written.
	Description   string `json:"description,omitempty"`
	Notes         string `json:"notes,omitempty"`
	AttendingType string `json:"attending_type,omitempty"`
	// Link is a page with the sessions or a booking facility (HSDS schedule_link).
	Link string `json:"schedule_link,omitempty"`
	// Unreadable says why the source's schedule could not be read into these
	// fields (the importer keeps it as given beside the record); such a schedule
	// is never evaluated.
	Unreadable string `json:"unreadable,omitempty"`
}

// Validate checks sizes and, unless the schedule is Unreadable, that every field
// is well-formed: day codes, day numbers in range, dates, times and a known zone.
// Rules that are well-formed but that refkit cannot evaluate (see Compile) pass.
func (s Schedule) Validate() error {
	if err := s.validateSizes(); err != nil {
		return err
	}
	if s.Unreadable != "" {
		return nil
	}
	_, err := s.parse()
	return err
}

func (s Schedule) validateSizes() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"id", s.ID, 300}, {"freq", string(s.Freq), 20}, {"wkst", s.WeekStart, 20},
		{"dtstart", s.DTStart, 40}, {"until", s.Until, 40}, {"valid_from", s.ValidFrom, 40}, {"valid_to", s.ValidTo, 40},
		{"opens_at", s.OpensAt, 30}, {"closes_at", s.ClosesAt, 30}, {"timezone", s.Timezone, 64},
		{"description", s.Description, 10000}, {"notes", s.Notes, 10000}, {"attending_type", s.AttendingType, 2000},
		{"schedule_link", s.Link, 2000}, {"unreadable", s.Unreadable, 500},
	} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if s.Interval < 0 || s.Interval > maxInterval {
		return invalid("interval", "must be between 0 and "+strconv.Itoa(maxInterval))
	}
	if s.Count < 0 || s.Count > maxCount {
		return invalid("count", "must be between 0 and "+strconv.Itoa(maxCount))
	}
	if len(s.ByDay) > 100 {
		return invalid("byday", "has too many entries")
	}
	for i, d := range s.ByDay {
		if err := requiredText("byday["+strconv.Itoa(i)+"]", d, 10); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		name string
		v    []int
	}{{"bymonthday", s.ByMonthDay}, {"byweekno", s.ByWeekNo}, {"byyearday", s.ByYearDay}} {
		if len(l.v) > 400 {
			return invalid(l.name, "has too many entries")
		}
		for i, v := range l.v {
			if v < -maxListValue || v > maxListValue {
				return invalid(l.name+"["+strconv.Itoa(i)+"]", "is out of range")
			}
		}
	}
	return nil
}

// Bounds on the numbers a schedule holds: large enough for any real timetable,
// small enough that no arithmetic on them overflows.
const (
	maxInterval  = 100000
	maxCount     = 100000
	maxListValue = 1000
)

// OpenAt reports whether the schedule is open at t. A schedule that cannot be
// evaluated is never open; use Compile or Hours to tell that from closed.
func (s Schedule) OpenAt(t time.Time) bool {
	c, err := s.Compile()
	return err == nil && !c.closed && c.occursAt(t)
}

// Compile reads the schedule for evaluation. It fails, with an error wrapping
// ErrInvalid that names the field, when the schedule is Unreadable or not
// well-formed, or when refkit cannot evaluate it: a frequency other than DAILY,
// WEEKLY, MONTHLY or YEARLY; a rule part RFC 5545 does not define for the
// frequency (bymonthday in a weekly rule, byweekno outside a yearly one, day
// ordinals outside monthly and yearly rules); count together with until; an
// interval, a count or a rule that repeats the first day without dtstart; one of
// opens_at and closes_at without the other; times whose offset contradicts the
// zone; or a count the recurrence does not reach within maxCountYears.
func (s Schedule) Compile() (*CompiledSchedule, error) {
	if s.Unreadable != "" {
		return nil, invalid("schedule", "could not be read from its source: "+s.Unreadable)
	}
	if err := s.validateSizes(); err != nil {
		return nil, err
	}
	r, err := s.parse()
	if err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// CompiledSchedule is a schedule read for repeated evaluation. It is immutable and
// safe for concurrent use.
type CompiledSchedule struct {
	loc    *time.Location
	closed bool
	// The opening window in seconds of the local day; allDay when no times are
	// given. A window with close <= open runs past midnight.
	open, close int
	allDay      bool
	// simple is the fast path: a plain weekly timetable (days in mask, every
	// week, no dates), so a test is a weekday and a clock comparison.
	simple bool
	mask   uint8

	freq       Frequency // "" is every day
	interval   int
	byDay      []ordDay
	plain      uint8 // weekdays listed without an ordinal
	ordinals   bool
	byMonthDay []int
	byWeekNo   []int
	byYearDay  []int
	wkst       time.Weekday

	start, until, from, to, last       civil
	hasStart, hasUntil, hasFrom, hasTo bool
	untilSec                           int // -1 when until is a date
	hasLast                            bool
}

// ordDay is one BYDAY entry: a weekday and its ordinal (0 for none).
type ordDay struct {
	n  int
	wd time.Weekday
}

// Closed reports whether the schedule names closures.
func (c *CompiledSchedule) Closed() bool { return c.closed }

// OccursAt reports whether t falls in one of the schedule's windows (an opening,
// or for a closure a closed period).
func (c *CompiledSchedule) OccursAt(t time.Time) bool { return c.occursAt(t) }

func (c *CompiledSchedule) occursAt(t time.Time) bool {
	local := t.In(c.loc)
	hour, minute, second := local.Clock()
	sec := hour*3600 + minute*60 + second
	if c.simple {
		return c.mask&(1<<local.Weekday()) != 0 && sec >= c.open && sec < c.close
	}
	y, m, d := local.Date()
	day := civilOf(y, m, d)
	switch {
	case c.allDay:
		return c.occursOn(day)
	case c.open < c.close:
		return sec >= c.open && sec < c.close && c.occursOn(day)
	}
	// A window past midnight: today's opening, or yesterday's still running.
	return (sec >= c.open && c.occursOn(day)) || (sec < c.close && c.occursOn(day-1))
}

// occursOn reports whether the schedule's window opens on day.
func (c *CompiledSchedule) occursOn(day civil) bool {
	switch {
	case c.hasFrom && day < c.from, c.hasTo && day > c.to:
		return false
	case c.hasStart && day < c.start:
		return false
	case c.hasLast && day > c.last:
		return false
	case c.hasUntil && (day > c.until || (day == c.until && c.untilSec >= 0 && c.open > c.untilSec)):
		return false
	}
	return c.matches(day)
}

// matches applies the recurrence rule alone. Every BYxxx part present must hold
// for the day (the RFC 5545 expansions and limits, which for the rule parts HSDS
// carries select the same days as a filter over the days of each period).
func (c *CompiledSchedule) matches(day civil) bool {
	y, m, dom := day.date()
	wd := day.weekday()
	switch c.freq {
	case "", Daily:
		if c.interval > 1 && floorMod(int(day-c.start), c.interval) != 0 {
			return false
		}
	case Weekly:
		if c.interval > 1 && floorMod(weekIndex(day, c.wkst)-weekIndex(c.start, c.wkst), c.interval) != 0 {
			return false
		}
		if len(c.byDay) == 0 {
			return wd == c.start.weekday()
		}
	case Monthly:
		if c.interval > 1 {
			sy, sm, _ := c.start.date()
			if floorMod((y*12+int(m))-(sy*12+int(sm)), c.interval) != 0 {
				return false
			}
		}
		if len(c.byDay) == 0 && len(c.byMonthDay) == 0 {
			_, _, sd := c.start.date()
			return dom == sd
		}
	case Yearly:
		if c.interval > 1 {
			sy, _, _ := c.start.date()
			if floorMod(y-sy, c.interval) != 0 {
				return false
			}
		}
		if len(c.byDay) == 0 && len(c.byMonthDay) == 0 && len(c.byYearDay) == 0 && len(c.byWeekNo) == 0 {
			_, sm, sd := c.start.date()
			return m == sm && dom == sd
		}
	}
	if len(c.byMonthDay) > 0 && !hasPosition(c.byMonthDay, dom, daysIn(y, m)) {
		return false
	}
	if len(c.byYearDay) > 0 && !hasPosition(c.byYearDay, int(day-civilOf(y, time.January, 1))+1, yearLength(y)) {
		return false
	}
	if len(c.byWeekNo) > 0 {
		n, weeks := weekNumber(day, c.wkst)
		if !hasPosition(c.byWeekNo, n, weeks) {
			return false
		}
	}
	if len(c.byDay) > 0 && !c.dayMatches(day, y, m, dom, wd) {
		return false
	}
	return true
}

// dayMatches applies BYDAY: a plain weekday, or an ordinal weekday within the
// month (monthly rules) or the year (yearly rules).
func (c *CompiledSchedule) dayMatches(day civil, y int, m time.Month, dom int, wd time.Weekday) bool {
	if c.plain&(1<<wd) != 0 {
		return true
	}
	if !c.ordinals {
		return false
	}
	pos, length := dom, daysIn(y, m)
	if c.freq == Yearly {
		pos, length = int(day-civilOf(y, time.January, 1))+1, yearLength(y)
	}
	for _, o := range c.byDay {
		if o.n == 0 || o.wd != wd {
			continue
		}
		if (o.n > 0 && (pos-1)/7+1 == o.n) || (o.n < 0 && (length-pos)/7+1 == -o.n) {
			return true
		}
	}
	return false
}

// hasPosition reports whether pos (1-based, in a period of length) is listed,
// counting negative entries from the end.
func hasPosition(list []int, pos, length int) bool {
	for _, v := range list {
		if v == pos || (v < 0 && length+1+v == pos) {
			return true
		}
	}
	return false
}

// maxCountYears bounds the search for a count's last occurrence, so compiling a
// sparse rule with a large count costs at most a few milliseconds.
const maxCountYears = 120

// check applies the semantic rules Compile documents and resolves the count.
func (c *CompiledSchedule) check() error {
	switch c.freq {
	case "", Daily, Weekly, Monthly, Yearly:
	default:
		return invalid("freq", "is not evaluated: refkit evaluates DAILY, WEEKLY, MONTHLY and YEARLY rules")
	}
	if c.freq == "" && c.interval > 1 {
		return invalid("interval", "needs a freq")
	}
	if c.ordinals && c.freq != Monthly && c.freq != Yearly {
		return invalid("byday", "ordinals are only defined for monthly and yearly rules")
	}
	if c.ordinals && len(c.byWeekNo) > 0 {
		return invalid("byday", "ordinals cannot be combined with byweekno")
	}
	if len(c.byMonthDay) > 0 && c.freq == Weekly {
		return invalid("bymonthday", "is not defined for weekly rules")
	}
	if len(c.byYearDay) > 0 && c.freq != Yearly {
		return invalid("byyearday", "is only defined for yearly rules")
	}
	if len(c.byWeekNo) > 0 && c.freq != Yearly {
		return invalid("byweekno", "is only defined for yearly rules")
	}
	if c.hasUntil && c.hasLast {
		return invalid("count", "cannot be combined with until")
	}
	if !c.hasStart {
		switch {
		case c.interval > 1:
			return invalid("dtstart", "is required with an interval")
		case c.hasLast:
			return invalid("dtstart", "is required with a count")
		case c.freq == Weekly && len(c.byDay) == 0,
			c.freq == Monthly && len(c.byDay) == 0 && len(c.byMonthDay) == 0,
			c.freq == Yearly && len(c.byDay)+len(c.byMonthDay)+len(c.byYearDay)+len(c.byWeekNo) == 0:
			return invalid("dtstart", "is required to know which day the rule repeats")
		}
	}
	if c.hasLast {
		return c.resolveCount()
	}
	return nil
}

// resolveCount turns a count into the date of its last occurrence, so evaluating
// an instant never walks the recurrence. c.last holds the count until then.
func (c *CompiledSchedule) resolveCount() error {
	want, seen := int(c.last), 0
	end := c.start + civil(maxCountYears*366)
	for day := c.start; day < end; day++ {
		if c.matches(day) {
			if seen++; seen == want {
				c.last = day
				return nil
			}
		}
	}
	return invalid("count", "is not reached within "+strconv.Itoa(maxCountYears)+" years of dtstart")
}

// parse reads every field, reporting the first that is not well-formed.
func (s Schedule) parse() (*CompiledSchedule, error) {
	c := &CompiledSchedule{closed: s.Closed, interval: s.Interval, wkst: time.Monday, untilSec: -1}
	freq := Frequency(strings.ToUpper(string(s.Freq)))
	switch freq {
	case "", Daily, Weekly, Monthly, Yearly:
	case "SECONDLY", "MINUTELY", "HOURLY":
	default:
		return nil, invalid("freq", "must be an RFC 5545 frequency such as WEEKLY or MONTHLY")
	}
	c.freq = freq
	for i, d := range s.ByDay {
		o, ok := parseByDay(d)
		if !ok {
			return nil, invalid("byday["+strconv.Itoa(i)+"]", "must be a day code MO..SU, optionally after an ordinal such as 1 or -1")
		}
		c.byDay = append(c.byDay, o)
		if o.n == 0 {
			c.plain |= 1 << o.wd
		} else {
			c.ordinals = true
		}
	}
	var err error
	if c.byMonthDay, err = rangeList("bymonthday", s.ByMonthDay, 31); err != nil {
		return nil, err
	}
	if c.byWeekNo, err = rangeList("byweekno", s.ByWeekNo, 53); err != nil {
		return nil, err
	}
	if c.byYearDay, err = rangeList("byyearday", s.ByYearDay, 366); err != nil {
		return nil, err
	}
	if s.WeekStart != "" {
		wd, ok := weekdayCode(s.WeekStart)
		if !ok {
			return nil, invalid("wkst", "must be a day code MO..SU")
		}
		c.wkst = wd
	}
	if err := c.parseClock(s); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name, v string
		day     *civil
		has     *bool
		sec     *int
	}{
		{"dtstart", s.DTStart, &c.start, &c.hasStart, nil}, {"until", s.Until, &c.until, &c.hasUntil, &c.untilSec},
		{"valid_from", s.ValidFrom, &c.from, &c.hasFrom, nil}, {"valid_to", s.ValidTo, &c.to, &c.hasTo, nil},
	} {
		if f.v == "" {
			continue
		}
		day, sec, ok := parseDateTime(f.v, c.loc)
		if !ok {
			return nil, invalid(f.name, "must be a date YYYY-MM-DD or an RFC 3339 date-time")
		}
		*f.day, *f.has = day, true
		if f.sec != nil {
			*f.sec = sec
		}
	}
	if s.Count > 0 {
		c.last, c.hasLast = civil(s.Count), true
	}
	c.simple = (c.freq == "" || c.freq == Weekly) && c.interval <= 1 && len(c.byDay) > 0 && !c.ordinals &&
		len(c.byMonthDay)+len(c.byWeekNo)+len(c.byYearDay) == 0 && !c.hasStart && !c.hasUntil &&
		!c.hasFrom && !c.hasTo && !c.hasLast && !c.allDay && c.open < c.close
	c.mask = c.plain
	return c, nil
}

// parseClock reads the opening window and the zone.
func (c *CompiledSchedule) parseClock(s Schedule) error {
	open, openOff, err := parseClockTime("opens_at", s.OpensAt, false)
	if err != nil {
		return err
	}
	closeAt, closeOff, err := parseClockTime("closes_at", s.ClosesAt, true)
	if err != nil {
		return err
	}
	switch {
	case s.OpensAt == "" && s.ClosesAt == "":
		c.allDay = true
	case s.OpensAt == "":
		return invalid("opens_at", "is required with closes_at")
	case s.ClosesAt == "":
		return invalid("closes_at", "is required with opens_at")
	}
	c.open, c.close = open, closeAt
	if openOff != closeOff {
		return invalid("closes_at", "must carry the same UTC offset as opens_at")
	}
	loc, fixed, err := zoneOf(s.Timezone)
	if err != nil {
		return err
	}
	c.loc = loc
	if openOff == noOffset {
		return nil
	}
	if s.Timezone == "" {
		c.loc = time.FixedZone(offsetName(openOff), openOff)
		return nil
	}
	if fixed != openOff {
		return invalid("opens_at", "carries a UTC offset that timezone contradicts")
	}
	return nil
}

// noOffset marks a clock time without "Z" or an offset.
const noOffset = -1 << 30

// parseClockTime reads "HH:MM" or "HH:MM:SS" with an optional "Z" or "±HH:MM";
// "24:00" is accepted as a closing time. Empty reads as 0 with no offset.
func parseClockTime(field, s string, closing bool) (sec, offset int, err error) {
	offset = noOffset
	if s == "" {
		return 0, offset, nil
	}
	bad := invalid(field, "must be HH:MM or HH:MM:SS, optionally with Z or a ±HH:MM offset")
	clock, rest := s, ""
	if i := strings.IndexAny(s, "Z+-"); i >= 0 {
		clock, rest = s[:i], s[i:]
	}
	h, m, sc, ok := hms(clock)
	if !ok {
		return 0, 0, bad
	}
	switch {
	case rest == "":
	case rest == "Z":
		offset = 0
	default:
		o, ok := parseOffset(rest)
		if !ok {
			return 0, 0, bad
		}
		offset = o
	}
	switch {
	case h == 24 && closing && m == 0 && sc == 0:
	case h > 23 || m > 59 || sc > 59:
		return 0, 0, bad
	}
	return h*3600 + m*60 + sc, offset, nil
}

// hms reads "HH:MM" or "HH:MM:SS".
func hms(s string) (h, m, sec int, ok bool) {
	if len(s) != 5 && len(s) != 8 {
		return 0, 0, 0, false
	}
	parts := strings.Split(s, ":")
	vals := make([]int, 0, 3)
	for _, p := range parts {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, 0, 0, false
		}
		vals = append(vals, int(p[0]-'0')*10+int(p[1]-'0'))
	}
	if len(vals) == 2 {
		vals = append(vals, 0)
	}
	return vals[0], vals[1], vals[2], true
}

// parseOffset reads "±HH:MM" into seconds east of UTC.
func parseOffset(s string) (int, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	h, m, _, ok := hms(s[1:])
	if !ok || h > 18 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// OffsetZone names the zone refkit uses for a fixed UTC offset given in seconds
// east of UTC: "UTC", the IANA zone Etc/GMT∓N for whole hours (POSIX inverts
// the sign: UTC-5 is Etc/GMT+5), or "±HH:MM" otherwise. ok is false for an
// offset beyond ±18 hours or not a whole number of minutes.
func OffsetZone(seconds int) (name string, ok bool) {
	if seconds < -18*3600 || seconds > 18*3600 || seconds%60 != 0 {
		return "", false
	}
	if seconds%3600 == 0 && seconds >= -12*3600 && seconds <= 14*3600 {
		h := seconds / 3600
		switch {
		case h == 0:
			return "UTC", true
		case h > 0:
			return "Etc/GMT-" + strconv.Itoa(h), true
		}
		return "Etc/GMT+" + strconv.Itoa(-h), true
	}
	return offsetName(seconds), true
}

// ZoneOffset returns the fixed UTC offset, in seconds east of UTC, of a zone
// named as Schedule.Timezone names it; ok is false for a zone whose offset
// changes (daylight saving time) or that is not known.
func ZoneOffset(name string) (seconds int, ok bool) {
	_, fixed, err := zoneOf(name)
	if err != nil || fixed == noOffset {
		return 0, false
	}
	return fixed, true
}

func offsetName(seconds int) string {
	sign := "+"
	if seconds < 0 {
		sign, seconds = "-", -seconds
	}
	return sign + twoDigits(seconds/3600) + ":" + twoDigits(seconds%3600/60)
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

// zoneOf loads a schedule's zone; fixed is its offset when the zone never changes
// it, noOffset otherwise.
func zoneOf(name string) (loc *time.Location, fixed int, err error) {
	if name == "" {
		return time.UTC, 0, nil
	}
	if name[0] == '+' || name[0] == '-' {
		off, ok := parseOffset(name)
		if !ok {
			return nil, 0, invalid("timezone", "must be an IANA time zone or an offset ±HH:MM")
		}
		return time.FixedZone(name, off), off, nil
	}
	if name == "Local" {
		return nil, 0, invalid("timezone", "must be an IANA time zone or an offset ±HH:MM")
	}
	if z, ok := zones.Load(name); ok {
		zi := z.(zoneInfo)
		return zi.loc, zi.fixed, nil
	}
	loc, lerr := time.LoadLocation(name)
	if lerr != nil {
		return nil, 0, invalid("timezone", "is not a known IANA time zone")
	}
	// A zone counts as fixed when it keeps one offset all year (no daylight
	// saving time); only then can an offset on a schedule's times agree with it.
	fixed = noOffset
	_, jan := time.Date(2025, time.January, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2025, time.July, 1, 12, 0, 0, 0, loc).Zone()
	if jan == jul {
		fixed = jan
	}
	zones.Store(name, zoneInfo{loc, fixed})
	return loc, fixed, nil
}

type zoneInfo struct {
	loc   *time.Location
	fixed int
}

// zones caches loaded time zones: time.LoadLocation reads the zone database on
// every call, and schedules are compiled for every service of a directory.
var zones sync.Map

// StandardOffset returns the offset, in seconds east of UTC, of a zone in the
// winter of 2025 (its standard time), for formats such as HSDS 3.0 that carry
// only a fixed offset. ok is false for a zone that is not known.
func StandardOffset(name string) (seconds int, ok bool) {
	loc, fixed, err := zoneOf(name)
	if err != nil {
		return 0, false
	}
	if fixed != noOffset {
		return fixed, true
	}
	_, jan := time.Date(2025, time.January, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2025, time.July, 1, 12, 0, 0, 0, loc).Zone()
	return min(jan, jul), true
}

// parseByDay reads "MO", "1MO", "+2TU" or "-1FR".
func parseByDay(s string) (ordDay, bool) {
	if len(s) < 2 {
		return ordDay{}, false
	}
	wd, ok := weekdayCode(s[len(s)-2:])
	if !ok {
		return ordDay{}, false
	}
	num := s[:len(s)-2]
	if num == "" {
		return ordDay{wd: wd}, true
	}
	n, err := strconv.Atoi(num)
	if err != nil || n == 0 || n < -53 || n > 53 || len(num) > 3 {
		return ordDay{}, false
	}
	return ordDay{n: n, wd: wd}, true
}

func weekdayCode(s string) (time.Weekday, bool) {
	switch strings.ToUpper(s) {
	case "SU":
		return time.Sunday, true
	case "MO":
		return time.Monday, true
	case "TU":
		return time.Tuesday, true
	case "WE":
		return time.Wednesday, true
	case "TH":
		return time.Thursday, true
	case "FR":
		return time.Friday, true
	case "SA":
		return time.Saturday, true
	}
	return 0, false
}

// rangeList checks that every entry is ±1..limit.
func rangeList(field string, list []int, limit int) ([]int, error) {
	for i, v := range list {
		if v == 0 || v < -limit || v > limit {
			return nil, invalid(field+"["+strconv.Itoa(i)+"]", "must be between 1 and "+strconv.Itoa(limit)+", or negative from the end")
		}
	}
	return list, nil
}

// parseDateTime reads a date "YYYY-MM-DD" (sec -1), or a date-time with a "T"
// (RFC 3339 with an offset, or local to loc without one), as the local day in loc
// and the second of that day.
func parseDateTime(s string, loc *time.Location) (day civil, sec int, ok bool) {
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return 0, 0, false
		}
		return civilOf(t.Date()), -1, true
	}
	var t time.Time
	var err error
	if t, err = time.Parse(time.RFC3339, s); err != nil {
		if t, err = time.ParseInLocation("2006-01-02T15:04:05", s, loc); err != nil {
			return 0, 0, false
		}
	}
	t = t.In(loc)
	h, m, sc := t.Clock()
	return civilOf(t.Date()), h*3600 + m*60 + sc, true
}

// civil is a day number: days since 1970-01-01 in the proleptic Gregorian
// calendar. Day arithmetic on it is integer arithmetic.
type civil int32

// civilOf is the day number of a date (the days-from-civil algorithm of Howard
// Hinnant's date library).
func civilOf(y int, m time.Month, d int) civil {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (int(m) + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return civil(era*146097 + doe - 719468)
}

// date is the inverse of civilOf.
func (c civil) date() (int, time.Month, int) {
	z := int(c) + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := (mp+2)%12 + 1
	if m <= 2 {
		y++
	}
	return y, time.Month(m), d
}

// weekday of a day number: 1970-01-01 was a Thursday.
func (c civil) weekday() time.Weekday { return time.Weekday(floorMod(int(c)+4, 7)) }

// weekIndex numbers weeks starting on wkst, consecutively across years.
func weekIndex(c civil, wkst time.Weekday) int {
	back := floorMod(int(c.weekday())-int(wkst), 7)
	return floorDiv(int(c)-back, 7)
}

// weekNumber is the RFC 5545 week of the year of c (week 1 is the first week,
// starting on wkst, with at least four days in the year) and how many weeks that
// week-numbering year has.
func weekNumber(c civil, wkst time.Weekday) (n, weeks int) {
	y, _, _ := c.date()
	first := func(y int) civil {
		jan4 := civilOf(y, time.January, 4)
		return jan4 - civil(floorMod(int(jan4.weekday())-int(wkst), 7))
	}
	start := first(y)
	switch {
	case c < start:
		y--
		start = first(y)
	case c >= first(y+1):
		y++
		start = first(y)
	}
	return int(c-start)/7 + 1, int(first(y+1)-start) / 7
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if yearLength(y) == 366 {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func yearLength(y int) int {
	if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 366
	}
	return 365
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// Openness is what a set of schedules says about one instant.
type Openness uint8

// What a set of schedules says about an instant.
const (
	// OpenUnknown: no schedule settles it (there are none that open, or one
	// that might apply cannot be evaluated).
	OpenUnknown Openness = iota
	// OpenNow: an opening schedule covers the instant and no closure does.
	OpenNow
	// ClosedNow: a closure covers the instant, or no opening schedule does.
	ClosedNow
)

// Hours is a set of schedules compiled once for repeated "open at" questions, as
// matching asks them for every candidate. The zero value has no schedules and
// answers OpenUnknown. It is immutable and safe for concurrent use.
type Hours struct {
	open, closed                []*CompiledSchedule
	unknownOpen, unknownClosure bool
	problems                    []error
}

// CompileHours compiles schedules. A schedule that cannot be evaluated does not
// fail the set: it makes the answers it could change OpenUnknown, and its error
// is listed by Problems.
func CompileHours(schedules []Schedule) Hours {
	var h Hours
	for i, s := range schedules {
		c, err := s.Compile()
		if err != nil {
			h.problems = append(h.problems, prefixed("schedules["+strconv.Itoa(i)+"]", err))
			if s.Closed {
				h.unknownClosure = true
			} else {
				h.unknownOpen = true
			}
			continue
		}
		if c.closed {
			h.closed = append(h.closed, c)
		} else {
			h.open = append(h.open, c)
		}
	}
	return h
}

// IsZero reports whether the set holds no schedule at all.
func (h Hours) IsZero() bool {
	return len(h.open)+len(h.closed) == 0 && !h.unknownOpen && !h.unknownClosure
}

// Problems returns why each schedule that cannot be evaluated was set aside.
func (h Hours) Problems() []error { return h.problems }

// At says whether the schedules open the service at t: a closure that covers t
// closes it; otherwise an opening schedule that covers t opens it, unless a
// closure that cannot be evaluated might apply; with no opening schedule that
// covers t it is closed, unless an opening schedule cannot be evaluated or
// there is none at all.
func (h Hours) At(t time.Time) Openness {
	for _, c := range h.closed {
		if c.occursAt(t) {
			return ClosedNow
		}
	}
	for _, c := range h.open {
		if c.occursAt(t) {
			if h.unknownClosure {
				return OpenUnknown
			}
			return OpenNow
		}
	}
	if h.unknownOpen || len(h.open) == 0 {
		return OpenUnknown
	}
	return ClosedNow
}
