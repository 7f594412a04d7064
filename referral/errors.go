package referral

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every package and storage backend wraps one of these, so a host
// can branch with errors.Is whatever layer the error came from.
var (
	// ErrNotFound: the record does not exist, or exists in a place the actor may not
	// see. The two are deliberately indistinguishable so existence is not leaked.
	ErrNotFound = errors.New("refkit: not found")
	// ErrConflict: a conditional write lost a race (the version read is stale), or an
	// idempotency key was reused for a different request.
	ErrConflict = errors.New("refkit: conflict")
	// ErrInvalidTransition: the command is not allowed in the referral's status.
	ErrInvalidTransition = errors.New("refkit: invalid transition")
	// ErrInvalid: the input failed validation. The chain holds a *ValidationError
	// naming the field.
	ErrInvalid = errors.New("refkit: invalid input")
	// ErrNoConsent: sending requires the person's consent to share with the
	// receiving organization, and no active consent covers it.
	ErrNoConsent = errors.New("refkit: no consent")
	// ErrForbidden: the actor may see the referral but may not run this command on
	// it (for example a sender trying to accept). Reads never return it: a record
	// the actor may not see is ErrNotFound.
	ErrForbidden = errors.New("refkit: forbidden")
	// ErrUnavailable: the storage backend could not do the work now. It could not
	// be reached, dropped the connection, is shutting down or overloaded, or
	// failed for a reason that is not the caller's input (a full disk, an I/O
	// error, a lock another process held past the busy timeout). Nothing was
	// written, unless the error is also ErrOutcomeUnknown: a write whose
	// connection was lost after it was sent may or may not have taken effect.
	// Retry later, making the retry safe with the idempotency key (create) or
	// the version the caller read (commands); one that keeps failing is an
	// outage.
	ErrUnavailable = errors.New("refkit: storage unavailable")
	// ErrOutcomeUnknown: a write reached the store, but the connection was
	// lost before its answer came back, and the store could not find out in
	// time whether it took effect (a database failover that outlasted the
	// store's retry deadline, say). It wraps ErrUnavailable, so a host that
	// retries unavailability retries this too, and the retry is what settles
	// it: create again with the same idempotency key (the referral comes back
	// whichever attempt stored it), or run the command again with
	// Command.IfVersion set to the version first read (ErrConflict then means
	// the referral moved on: read its history, whose event at that version
	// plus one is the first attempt's if it landed). A retry built this way
	// never writes a referral or an event twice.
	ErrOutcomeUnknown = fmt.Errorf("refkit: outcome unknown: %w", ErrUnavailable)
)

// ValidationError names the field that failed validation and why. It never carries
// the offending value, so it is safe to log even when the input holds personal data.
type ValidationError struct {
	// Field is the JSON path of the field, e.g. "needs[2].domain".
	Field string
	// Problem says what is wrong, e.g. "is required".
	Problem string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("refkit: invalid input: %s %s", e.Field, e.Problem)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// invalid builds a *ValidationError.
func invalid(field, problem string) error {
	return &ValidationError{Field: field, Problem: problem}
}

// Invalid returns a *ValidationError for field; packages outside referral use it so
// that every validation failure in refkit has the same shape.
func Invalid(field, problem string) error { return invalid(field, problem) }

// prefixed re-roots a nested validation error under parent, so that
// Person.Validate inside Referral.Validate reports "person.birth_date".
func prefixed(parent string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &ValidationError{Field: parent + "." + ve.Field, Problem: ve.Problem}
	}
	return err
}
