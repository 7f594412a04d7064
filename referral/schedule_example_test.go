package referral_test

import (
	"fmt"
	"time"

	"github.com/refkit/refkit/referral"
)

func ExampleCompileHours() {
	hours := referral.CompileHours([]referral.Schedule{
		// Weekdays 9 to 5 in Chicago...
		{ByDay: []string{"MO", "TU", "WE", "TH", "FR"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Chicago"},
		// ...and the first Saturday of the month, 10 to noon...
		{Freq: referral.Monthly, ByDay: []string{"1SA"}, OpensAt: "10:00", ClosesAt: "12:00", Timezone: "America/Chicago"},
		// ...but closed on Christmas Day.
		{Closed: true, ValidFrom: "2026-12-25", ValidTo: "2026-12-25"},
	})
	chicago, _ := time.LoadLocation("America/Chicago")
	for _, t := range []time.Time{
		time.Date(2026, 12, 24, 10, 0, 0, 0, chicago), // a Thursday
		time.Date(2026, 12, 25, 10, 0, 0, 0, chicago), // Christmas, a Friday
		time.Date(2026, 12, 5, 11, 0, 0, 0, chicago),  // the first Saturday
		time.Date(2026, 12, 12, 11, 0, 0, 0, chicago), // the second
	} {
		fmt.Println(t.Format("Mon Jan 2"), hours.At(t) == referral.OpenNow)
	}
	// Output:
	// Thu Dec 24 true
	// Fri Dec 25 false
	// Sat Dec 5 true
	// Sat Dec 12 false
}

func ExampleSchedule_Compile() {
	// HSDS allows byweekno only in yearly rules, which it has no freq for:
	// refkit keeps such a schedule and says why it cannot evaluate it.
	s := referral.Schedule{Freq: referral.Weekly, ByDay: []string{"TH"}, ByWeekNo: []int{41, 42}}
	fmt.Println(s.Validate())
	_, err := s.Compile()
	fmt.Println(err)
	// Output:
	// <nil>
	// refkit: invalid input: byweekno is only defined for yearly rules
}

func ExampleService_Unmatchable() {
	s := referral.Service{
		ID: referral.NewID(), Network: referral.NewID(), Organization: referral.NewID(),
		Name: "Produce truck", Status: referral.ServiceActive,
		Locations: []referral.Location{{ID: referral.NewID(), Unplaced: true}},
	}
	fmt.Println(s.Validate(), s.Unmatchable())
	// Output: <nil> [no-domain no-place]
}
