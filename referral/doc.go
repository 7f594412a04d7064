// Package referral is refkit's vocabulary: the plain values every other package
// passes around (networks, people, organizations, services, needs, consents,
// referrals and their events), their identifiers, validation, and the sentinel
// errors every layer wraps.
//
// It depends on nothing but the standard library and google/uuid, so hosts can use
// the types in their own APIs without pulling in refkit's engines.
//
// Every input type has a Validate method that reports the first problem as a
// *ValidationError naming the JSON field; errors.Is(err, ErrInvalid) holds for all
// of them. Validation errors never contain the offending value, so they are safe to
// log even when the record holds personal data.
//
// # Dependencies
//
// Outside the standard library, referral imports only github.com/google/uuid
// (UUID parsing and formatting). Every other refkit package builds on it, so
// this is the floor of every host's dependencies.
package referral
