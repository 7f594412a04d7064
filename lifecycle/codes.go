package lifecycle

import (
	"slices"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// Codes are the code lists reasons and outcomes are checked against (FHIR
// Task.statusReason and Task.output). Cancel governs both an immediate cancel
// and a request to cancel. Hosts extend the defaults:
//
//	codes := lifecycle.DefaultCodes()
//	codes.Decline = append(codes.Decline, "language-not-served")
type Codes struct {
	Decline []string `json:"decline"`
	Fail    []string `json:"fail"`
	Cancel  []string `json:"cancel"`
	Hold    []string `json:"hold"`
	Outcome []string `json:"outcome"`
}

// ReasonExpired is the reason the deadline sweep records when it expires a referral.
const ReasonExpired = "expired"

// DefaultCodes returns refkit's code lists. Each call returns fresh slices.
func DefaultCodes() Codes {
	return Codes{
		Decline: []string{"no-capacity", "not-eligible", "service-not-offered", "unable-to-contact", "client-declined", "duplicate", "other"},
		Fail:    []string{"unable-to-contact", "client-declined", "no-show", "not-eligible", "no-capacity", "moved", "other"},
		Cancel:  []string{"client-declined", "no-longer-needed", "referred-elsewhere", "need-met-elsewhere", "other"},
		Hold:    []string{"waitlisted", "awaiting-documents", "client-request", "other"},
		// enrolled, not-enrolled and on-waitlist close a referral to a program
		// with the IG's program enrollment statuses.
		Outcome: []string{"got-help", "partially-helped", "need-met-elsewhere", "enrolled", "not-enrolled", "on-waitlist", "other"},
	}
}

// Validate checks every code's shape and that no list is empty.
func (c Codes) Validate() error {
	for _, l := range []struct {
		name  string
		codes []string
	}{{"decline", c.Decline}, {"fail", c.Fail}, {"cancel", c.Cancel}, {"hold", c.Hold}, {"outcome", c.Outcome}} {
		if len(l.codes) == 0 {
			return referral.Invalid("codes."+l.name, "must not be empty")
		}
		for i, code := range l.codes {
			if err := referral.ValidateCode("codes."+l.name+"["+strconv.Itoa(i)+"]", code); err != nil {
				return err
			}
		}
	}
	if slices.Contains(c.Cancel, ReasonExpired) {
		return referral.Invalid("codes.cancel", "must not contain "+ReasonExpired+": only the deadline sweep expires")
	}
	return nil
}

func (c Codes) clone() Codes {
	return Codes{
		Decline: slices.Clone(c.Decline), Fail: slices.Clone(c.Fail), Cancel: slices.Clone(c.Cancel),
		Hold: slices.Clone(c.Hold), Outcome: slices.Clone(c.Outcome),
	}
}
