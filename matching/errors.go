package matching

import (
	"fmt"

	"github.com/refkit/refkit/referral"
)

// invalidf builds the *referral.ValidationError every bad input in matching returns.
func invalidf(field, problem string, args ...any) error {
	if len(args) > 0 {
		problem = fmt.Sprintf(problem, args...)
	}
	return referral.Invalid(field, problem)
}

// RuleError reports an eligibility rule that does not compile, is not boolean,
// or exceeds RuleLimits. It names the service and carries the position of the
// problem; it never carries request data.
type RuleError struct {
	// Service is the service whose rule failed; zero when a rule is compiled alone.
	Service referral.ID
	// Line and Column locate the problem in the rule text (1-based line, 0-based
	// column as expr reports it); zero when expr gives no position.
	Line, Column int
	// Message describes the problem: expr's, or the limit exceeded and by what.
	Message string
}

func (e *RuleError) Error() string {
	where := "eligibility rule"
	if !e.Service.IsZero() {
		where = "service " + e.Service.String() + ": eligibility rule"
	}
	if e.Line > 0 {
		return fmt.Sprintf("refkit: invalid input: %s: %s (line %d, column %d)", where, e.Message, e.Line, e.Column)
	}
	return fmt.Sprintf("refkit: invalid input: %s: %s", where, e.Message)
}

// Unwrap makes errors.Is(err, referral.ErrInvalid) hold.
func (e *RuleError) Unwrap() error { return referral.ErrInvalid }
