// Package api is the refkit HTTP JSON API as an http.Handler a host mounts
// in its own server: networks and organizations, the service directory,
// persons (with erasure), consents, screenings (answers or a FHIR
// QuestionnaireResponse), matching, referrals and every lifecycle command,
// their history, the event feed (a page, or server-sent events resumable
// with Last-Event-ID), loop-closure reports, and FHIR Task read, Task update
// and bundle export. refkit serve (cmd/refkit) wires it with OIDC bearer
// tokens, metrics and the deadline sweep; a host with its own server mounts
// New's Handler under a prefix of its own.
//
// # Who is calling
//
// Every route but /healthz, /readyz and /openapi.json asks the
// Options.Authenticator for the referral.Actor making the request. The
// actor's network is the tenant: routes never name a network, so nothing an
// actor sends can reach another network, and a record of another network is
// not found. The policy, the library's:
//
//   - 401: no credentials, or ones the Authenticator does not accept (with a
//     WWW-Authenticate: Bearer challenge);
//   - 403: a role the route does not admit (the table in Handler.Routes and
//     the document's x-refkit-roles), or a command the lifecycle forbids the
//     actor (a sender accepting its own referral), or a send without consent;
//   - 404: anything the actor may not see: a referral it is no party to, a
//     draft of another organization, another network's anything, another
//     person for a delegate. Existence is not leaked.
//
// Persons, consents and screenings have no per-person rule in the library:
// the network's staff and admins read and write them, a delegate only the
// person they act for. Erasing a person is for admins.
//
// # Versions, retries and errors
//
// A referral's version is its ETag. A command with If-Match: "3" runs only
// if the referral is still at version 3, else 412; with an Idempotency-Key as
// well, a retry whose first attempt took effect is answered with the
// referral as that attempt left it. POST /referrals with an Idempotency-Key
// returns the first referral (200) to a retry. Every error is an RFC 9457
// problem (application/problem+json) whose type is ProblemType followed by a
// stable slug per cause; its detail is the refkit error's message, which
// never holds personal data, or a fixed sentence for the server's own
// failures (the operator finds them by request id through Options.Observe).
//
// # Bounds
//
// Bodies are at most Options.MaxBody bytes (413 beyond), JSON only (415
// otherwise), one value with no unknown fields; pages and filters are the
// store's bounded queries; a report's period is at most MaxReportPeriod;
// matching rules are checked against the rule cost limits before a service
// is stored; at most MaxIndexes matching indexes are cached.
//
// # The OpenAPI document
//
// One route table registers the handlers and generates the OpenAPI 3.1
// document (Handler.OpenAPI, served at /openapi.json); the schemas are
// derived from the Go types of the bodies. The package's tests validate every
// response they receive against the document.
//
// # Dependencies
//
// Outside the standard library, api imports nothing itself; through
// referral, lifecycle, screening and matching it links
// github.com/google/uuid, github.com/qmuntal/stateless,
// github.com/expr-lang/expr, github.com/uber/h3-go/v4 and the OpenTelemetry
// API (go.opentelemetry.io/otel, go.opentelemetry.io/otel/metric and
// go.opentelemetry.io/otel/trace). It links no database driver and no
// telemetry SDK.
package api
