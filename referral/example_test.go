package referral_test

import (
	"errors"
	"fmt"

	"github.com/refkit/refkit/referral"
)

func ExampleParseID() {
	id, err := referral.ParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")
	fmt.Println(id, err, id.Time().Format("2006-01-02"))

	_, err = referral.ParseID("not-an-id")
	fmt.Println(errors.Is(err, referral.ErrInvalid))
	// Output:
	// 0190a6f0-8a4b-7c3d-9e2f-0123456789ab <nil> 2024-07-12
	// true
}

func ExampleReferral_Validate() {
	r := referral.Referral{
		ID:       referral.NewID(),
		Network:  referral.NewID(),
		Person:   referral.NewID(),
		Sender:   referral.NewID(),
		Receiver: referral.NewID(),
		Needs:    []referral.Need{{Domain: "housing", Urgency: referral.Urgent}},
		Status:   referral.StatusDraft,
		Priority: referral.Urgent,
	}
	err := r.Validate()
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field, "→", ve.Problem)
	}
	// Output: needs[0].domain → is not a registered domain code
}

// A person's yes-or-no facts are nil until answered: eligibility rules treat
// nil as unknown, not as no.
func ExampleKnown() {
	p := referral.Person{Veteran: referral.Known(false)}
	fmt.Println(*p.Veteran, p.Pregnant == nil)
	// Output:
	// false true
}
