package demo_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage/memory"
)

// Run plays the bundled network on any store; the report says how well the
// loop closed.
func ExampleRun() {
	store := memory.New()
	defer store.Close()
	report, err := demo.Run(context.Background(), store, demo.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d people screened, %d referrals, %.0f%% closed\n",
		len(report.People), report.Loop.Total, 100*report.Loop.ClosureRate)
	fmt.Println("completed:", report.Loop.ByStatus["completed"], "expired:", report.Sweep.Expired)
	// Output:
	// 6 people screened, 18 referrals, 61% closed
	// completed: 11 expired: 2
}

// LoadSample returns the bundled network to load into a store or an index.
func ExampleLoadSample() {
	sample, err := demo.LoadSample()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sample.Network.Name)
	fmt.Println(sample.Referrer.Name, "screens", len(sample.People), "people")
	// Output:
	// Columbus Sample Referral Network
	// Franklinton Family Health Center screens 6 people
}

// Load writes the sample's directory into a store, ready for a host's own
// matching and referrals.
func ExampleSample_Load() {
	ctx := context.Background()
	sample, err := demo.LoadSample()
	if err != nil {
		fmt.Println(err)
		return
	}
	store := memory.New()
	defer store.Close()
	if err := sample.Load(ctx, store); err != nil {
		fmt.Println(err)
		return
	}
	referrer, err := store.GetOrganization(ctx, sample.Network.ID, sample.Referrer.ID)
	fmt.Println(referrer.Name, err)
	// Output: Franklinton Family Health Center <nil>
}

// WriteText is the report `refkit demo` prints; WriteJSON the one `--json` does.
func ExampleReport_WriteText() {
	store := memory.New()
	defer store.Close()
	report, err := demo.Run(context.Background(), store, demo.Options{Days: 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	var text strings.Builder
	if err := report.WriteText(&text); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(text.String(), "\n")
	fmt.Println(lines[0])
	fmt.Println(lines[2])
	// Output:
	// Columbus Sample Referral Network (a fictional sample)
	// Virtual time Mon 2 Mar 2026 09:00 EST to Mon 9 Mar 2026 09:00 EDT.
}

// A story names what a receiving organization does with a referral.
func ExampleStory_Decline() {
	for _, s := range []demo.Story{demo.StoryComplete, "decline:no-capacity"} {
		reason, ok := s.Decline()
		fmt.Printf("%s: declines=%v reason=%q valid=%v\n", s, ok, reason, s.Validate(lifecycle.DefaultCodes()) == nil)
	}
	// Output:
	// complete: declines=false reason="" valid=true
	// decline:no-capacity: declines=true reason="no-capacity" valid=true
}

// ParseSample reads a host's own sample; a bad one is refused with the field
// to fix.
func ExampleParseSample() {
	directory := []byte(`{"network": {"id": "019b8d62-7a80-78d1-ad76-95b53c908921", "name": "Mine"},
		"organizations": [], "services": []}`)
	people := []byte(`{"referrer": {}, "people": []}`)
	_, err := demo.ParseSample(directory, people, screening.Default(), lifecycle.DefaultCodes())
	fmt.Println(err)
	// Output: demo: sample: referrer: refkit: invalid input: id is required
}
