// Package fhir exchanges referrals as HL7 FHIR R4 resources following the SDOH
// Clinical Care implementation guide (Gravity Project; profiles of STU 2.x).
//
// Export renders one referral as a Bundle (type collection, JSON) holding an
// SDOHCC ServiceRequest (the request: SDOH categories, code, subject,
// requester, performer, reasonReference to the screening Observations,
// priority), an SDOHCC TaskForReferralManagement (the tracking: status,
// businessStatus and statusReason from the referral's reason, owner the
// receiving organization, output the outcome once the loop is closed), the
// SDOHCC Consent(s) the person gave the receiving organization, the Patient
// and the two Organizations, and the screening Observations, which package
// screening renders from the stored screening's answers. Only the
// Observations about the referral's needs are sent (minimum necessary): a food
// bank gets the food answers, not the mood or safety answers of the same
// screening.
//
// Apply reads a Task update from a receiving system (a Task, or a Bundle
// holding exactly one) and runs it through the lifecycle Engine as the
// matching command, so that every guard and access check holds as for any
// other caller: accepted → Accept, rejected → Decline, in-progress → Start (or
// Resume from on-hold), on-hold → Hold, completed → Complete with the outcome
// in Task.output, failed → Fail, cancelled → Cancel, received → Acknowledge,
// requested → Send, entered-in-error → EnterInError. A Task in the referral's
// current status changes nothing, so a redelivered update is harmless.
//
// Who acts is never read from the Task. The host authenticates the system
// that sent it (mutual TLS, an OAuth client, a signed webhook) and passes the
// referral.Actor it maps to; Task.owner, Task.requester and Task.for are only
// checked against the referral, so a Task about another referral, person or
// organization is rejected rather than trusted.
//
// Errors wrap the referral sentinels: a malformed resource, or one beyond the
// parsers' limits (at most 4 MiB of strict I-JSON, nested 32 deep, 100,000
// values, 10,000 entries in an array and 100 members in an object, checked
// before anything is decoded), is referral.ErrInvalid (a
// *referral.ValidationError naming the FHIR element, never its value), a transition the lifecycle forbids is
// referral.ErrInvalidTransition with the reason, a Task written against a
// stale version (meta.versionId) is referral.ErrConflict, and a referral the
// actor may not see is referral.ErrNotFound.
//
// The resources are small structs for exactly the elements refkit writes and
// reads, not a general FHIR model; Bundle.Validate checks the elements the
// implementation guide makes mandatory for each profile emitted.
//
// # Dependencies
//
// Outside the standard library, fhir imports nothing itself; through lifecycle,
// screening and referral it links github.com/qmuntal/stateless,
// github.com/expr-lang/expr and github.com/google/uuid. It links no database
// driver.
package fhir
