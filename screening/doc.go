// Package screening scores standardized health-related social needs and
// behavioral health screening instruments and turns the results into
// referral.Needs.
//
// Instruments are data, not code: each is a JSON document (schema in
// instrument.schema.json) listing its items with their LOINC question codes,
// answer options with LOINC answer codes (LA...) and numeric values, an
// optional total with named bands, and rules that mark SDOH domains positive or
// raise flags. An item may instead be free entry: an integer item (a household
// size, an income in dollars) takes a whole number within its bounds, which
// rules and totals read like an option's value; a text item (an address) takes
// bounded text without control characters, has no value, and is reported only
// as answered, declined or missing: its text is personal data and never appears
// in a Result or an error, only in the item's FHIR Observation. A total is
// either the sum of item values or a tally of the rules that hold (PRAPARE's
// count of risk answers). Rules are either plain (an answer among listed codes,
// a sum at or over a threshold, the total at or over a threshold) or
// expr-lang/expr expressions over item values such as
//
//	item("95618-5") + item("95617-7") + item("95616-9") + item("95615-1") >= 11
//
// compiled once when the instrument is loaded. Parse reports malformed
// definitions with their line, column and JSON path.
//
// Every document the package parses (a response for ParseAnswers, a FHIR
// QuestionnaireResponse, an instrument definition) comes from outside, so each
// is checked before it is decoded: at most 4 MiB of strict I-JSON (UTF-8, no
// unpaired surrogate escapes, no member named twice in an object in any
// letter case, nothing after the document), nested and holding no more values,
// array entries and object members than the limits on instruments allow. What
// breaks them is referral.ErrInvalid, at a cost bounded by the limits.
//
// The built-in instruments (ahc-hrsn, hunger-vital-sign, phq-2, phq-9, gad-7,
// prapare) are embedded and loaded by Default. Each cites its publisher's
// scoring rules in its sources.
//
// Scoring works on a Response: answers resolved to option indexes and values
// once, at input (text answers kept by reference), so that ScoreInto touches
// only fixed slices and reuses the caller's Result; it does not allocate.
// Missing and declined answers are never scored as zero: a total needs every
// one of its items, a rule whose items are unanswered does not fire, and the
// Result lists the missing items and says whether the screen is valid.
//
// The package reads FHIR R4 QuestionnaireResponses whose item linkIds are LOINC
// item codes (answers as valueCoding, valueInteger, a whole valueDecimal or
// valueString), as the SDOH Clinical Care IG's examples send them: items the
// instrument computes (its total, the Hunger Vital Sign's 88124-3 "Food
// insecurity risk") are accepted and checked against the other answers. It
// writes them back (Response.QuestionnaireResponse, US Core 7 profile) and
// renders the IG's screening-response Observations (Response.Observations):
// categories survey, sdoh and the SDOH domains, the SDOHCC Observation
// Screening Response profile (US Core's Observation Screening Assessment for
// instruments that screen for no SDOH domain or codes that are not LOINC),
// derived from the QuestionnaireResponse. Small structs model exactly those
// resources. Codes shaped as LOINC codes are labelled LOINC; an instrument's
// local codes (item ids, answer codes, and the panel of an instrument without
// a LOINC code) are labelled with its System, so a host's own codes are never
// passed off as LOINC.
//
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). Scoring has no constructor to take providers from, so the
// package reports to the global providers, looked up on each call:
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Response.ScoreContext scores inside a span, "screening score", a child of
// its context's, with the attributes refkit.screening.instrument (the
// instrument's id), refkit.screening.items, refkit.screening.positive_domains
// (a count) and refkit.screening.valid. Score and ScoreInto record the
// metrics only: they have no context to place a span in. No answer, flag or
// domain is ever an attribute.
//
//	metric                              unit      kind       attributes
//	refkit.screening.scores             {score}   counter    refkit.screening.instrument
//	refkit.screening.positive_domains   {domain}  counter    refkit.screening.instrument (the domains found positive, summed)
//	refkit.screening.duration           s         histogram  refkit.screening.instrument
//
// A FHIR export scores the screenings it renders again (package interop/fhir),
// and is counted as a scoring.
//
// # Dependencies
//
// Outside the standard library, screening imports github.com/expr-lang/expr
// (an instrument's scoring rules) and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace), and through referral
// github.com/google/uuid. The OpenTelemetry SDK is the host's to link.
package screening
