// Package fhir exchanges referrals as HL7 FHIR R4 resources that conform to
// the SDOH Clinical Care implementation guide (Gravity Project, STU 2.3; the
// enrollment and capacity profiles of its STU3 ballot) and US Core 7.0.0.
//
// Export renders one referral as a Bundle: the SDOHCC ServiceRequest (SDOH
// categories, code, subject, requester, performer, reasonReference to the
// screening Observations, priority), the SDOHCC TaskForReferralManagement
// (status from the IG's referral Task statuses, the finer state in
// businessStatus, statusReason with its text, owner the receiving
// organization, and once the loop is closed its outputs), the SDOHCC
// Consent(s) the person gave the receiving organization, the US Core Patient
// (identifiers, name, administrative gender, birth date) and Organizations,
// the QuestionnaireResponse of the answers about the needs and the SDOHCC
// Observation Screening Responses derived from it (package screening renders
// both from the stored screening), and, for a completed referral, the SDOHCC
// Procedure or program enrollment Observation its outcome maps to (Codes).
// Only what the needs are about is sent (minimum necessary): a food bank gets
// the food answers, not the mood or safety answers of the same screening.
//
// Every entry has a fullUrl: BaseURL/Type/id with Options.BaseURL, else
// urn:uuid:<uuid>, references then being those URNs so they resolve within
// the bundle as FHIR R4 requires. Options.Transaction makes the bundle a
// transaction a FHIR server applies as is: conditional creates (ifNoneExist
// on identifiers) for what is created once, conditional updates for the
// ServiceRequest, Task and Consents. Every resource carries a generated,
// escaped XHTML narrative of its own elements.
//
// What the host lacks is exported as US Core asks: a person with no gender
// recorded has gender "unknown" (the binding is required and has that code),
// one with no name an empty name carrying the data-absent-reason extension
// ("unknown"), one with no identifier refkit's id under
// Options.PersonIdentifierSystem (urn:ietf:rfc:3986 with urn:uuid:<id> by
// default). An organization identifier US Core refuses (a bad NPI check
// digit, a malformed CLIA or NAIC number) fails the export rather than be sent.
//
// Apply reads a Task update from a receiving system (a Task, or a Bundle
// holding exactly one with the resources its outputs reference) and runs it
// through the lifecycle Engine as the one command that leads from the
// referral's status and business status to the Task's, so that every guard
// and access check holds as for any other caller: see Apply for the mapping,
// including the business statuses (acknowledged, waitlisted, scheduled,
// no-show) and the two-step cancellation (cancel-requested, cancel-refused,
// then cancelled to confirm). A completed Task's outcome is refkit's own
// outcome output, or the IG's: a Procedure (or its code) or an enrollment
// Observation, mapped back through Codes. A Task in the referral's current
// state changes nothing, so a redelivered update is harmless.
//
// Who acts is never read from the Task. The host authenticates the system
// that sent it (mutual TLS, an OAuth client, a signed webhook) and passes the
// referral.Actor it maps to; Task.owner, Task.requester and Task.for are only
// checked against the referral, so a Task about another referral, person or
// organization is rejected rather than trusted.
//
// Capacity answers the IG's capacity inquiry before a referral: the services
// asked about as HealthcareServices with their capacity status, naming no
// person.
//
// Errors wrap the referral sentinels: a malformed resource, or one beyond the
// parsers' limits (at most 4 MiB of strict I-JSON, nested 32 deep, 100,000
// values, 10,000 entries in an array, 100 members in an object and 1,000
// entries in a bundle, checked before anything is decoded), is
// referral.ErrInvalid (a *referral.ValidationError naming the FHIR element,
// never its value; a code no Codes row maps is named, as codes are not
// personal data), a transition the lifecycle forbids is
// referral.ErrInvalidTransition with the reason, a Task written against a
// stale version (meta.versionId) is referral.ErrConflict, and a referral the
// actor may not see is referral.ErrNotFound.
//
// The resources are small structs for exactly the elements refkit writes and
// reads, not a general FHIR model; Bundle.Validate checks the elements the
// profiles make mandatory for what refkit emits. The package's tests hold
// every export, in every status the lifecycle reaches, to the IG's and US
// Core's rules one by one (see the README's Standards section for the
// versions and what is not covered).
//
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). An Exchange reports to Options.TracerProvider and
// Options.MeterProvider;
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Spans: "fhir export", "fhir apply" (Apply, ApplyTask, ApplyBundle) and "fhir
// capacity", with refkit.fhir.operation, refkit.network.id, and
// refkit.referral.id (for an apply, once the Task is matched to its referral),
// and, when they succeeded, refkit.fhir.entries (a bundle's),
// refkit.fhir.task.status (the referral's status after an apply) and
// refkit.fhir.services (a capacity inquiry's). The lifecycle command an apply
// runs is its child. No resource content is ever an attribute.
//
//	metric                  unit         kind       attributes
//	refkit.fhir.operations  {operation}  counter    refkit.fhir.operation (export, apply, capacity), error.type
//	refkit.fhir.duration    s            histogram  refkit.fhir.operation, error.type
//
// # Dependencies
//
// Outside the standard library, fhir imports only the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace);
// through lifecycle, screening and referral it also links
// github.com/qmuntal/stateless, github.com/expr-lang/expr and
// github.com/google/uuid. It links no database driver, and no OpenTelemetry
// SDK.
package fhir
