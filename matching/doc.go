// Package matching finds the services in a directory that can help one person
// with their needs near a place, ranks them, and says why.
//
// An Index holds an immutable Snapshot of the directory: service locations bucketed
// by H3 cell, service areas (county, zip, state, polygon covered by H3 polyfill,
// virtual), and every eligibility rule compiled once. A request covers its radius
// with an H3 grid disk sized with a safety margin (hexagon area varies up to 2×
// within a resolution), keeps the locations within the exact great-circle distance
// (sphere of radius 6,371,008.8 m), adds the services whose areas cover the person,
// then judges each candidate: active, covers a requested domain, within the radius
// (or serves the area), capacity (per Request.Full), HSDS age limits, and the
// eligibility rule. Update builds a new snapshot and swaps it in atomically;
// readers never block. Snapshot.Scan answers the same request by examining every
// service: it is the reference the index is tested and benchmarked against, and
// Match returns exactly what Scan returns.
//
// # How Match is fast
//
// Locations are bucketed by H3 cell at Options.Resolution and the buckets grouped
// by the cell two resolutions coarser; the grid disk covers the radius at the
// coarse resolution, and groups and buckets whose centre is farther than the
// radius plus the farthest location actually filed under such a centre are
// dropped before any location is read. With explanations off, candidates are
// then filtered cheapest test first, from data copied next to each location
// (domains and activity, exact distance, capacity, age limits, rule) and each
// distinct rule is evaluated at most once per request; survivors are scored
// without reading the service table and a bounded heap keeps the best Limit.
// With explanations on, exclusion reasons are kept as bits until the result is
// built. Per-request working memory is pooled, so a request allocates little
// beyond its result.
//
// # Eligibility rules
//
// A rule is an expr-lang/expr expression that must be boolean. It is compiled once
// per distinct text (services sharing a text share the program), type-checked
// against Env, and evaluated at most once per request. Rules may come from
// untrusted sources, so they are bounded (RuleLimits: length, syntax-tree nodes,
// VM memory), cannot call clock, JSON or other impure builtins, and see nothing but
// the request's facts. A rule that does not compile is rejected with a *RuleError
// naming the service and expr's line and column.
//
// The vocabulary (fields of Env):
//
//	age             int       whole years at the request's as_of
//	household_size  int       people in the household, the person included
//	income_annual   float     household income, US dollars a year
//	fpl_percent     float     income as a percent of the HHS poverty guideline for the
//	                          household size and state (48 states + DC, Alaska, Hawaii),
//	                          from the guideline in force at as_of (2025 and 2026 carried;
//	                          hosts override with Options.Guidelines)
//	zip, county     string    as given in the request
//	state           string    two-letter USPS code
//	languages       []string  BCP 47 tags, lower-cased
//	insurance       string    host-defined code, e.g. "medicaid"
//	veteran, pregnant, disabled  bool
//	needs           []string  domain codes of the request's needs
//	urgency         string    most pressing urgency: routine, urgent, emergent
//	attributes      map[string]string  host-defined facts
//
// Helpers: has_need("food-insecurity") is true when the request has that need;
// speaks("es") is true when the person speaks the language ("es" matches "es-MX").
// Builtins allowed: all none any one filter map count len abs ceil floor round int
// float string trim upper lower split hasPrefix hasSuffix max min first last get
// keys values indexOf.
//
// A rule that names a fact the request leaves unknown (age without birth_date,
// household_size, income_annual, fpl_percent without income, household size or a
// covered state) is not evaluated: the service is excluded with "unknown-fact".
//
// # Ranking
//
// Score = Σ weight × value over distance, needs covered, urgency, language,
// capacity and open hours (see Weights for each value). Every match carries its
// Breakdown. Ties are broken by distance, then service id, then location id, so
// results are deterministic. With Request.Explain, every excluded candidate within
// ExplainFactor × radius carries all the reasons it failed (inactive,
// domain-mismatch, out-of-radius, no-capacity, age-limit, unknown-fact,
// rule-failed with the failing top-level clause, rule-error). Services reached only
// through an area are candidates when they cover a requested domain. A service
// kept in the directory although it can never match (referral.Service.Unmatchable)
// is explained as "unmatchable": with no domain, when it is a candidate; with no
// location that has coordinates and no area, whenever it covers a requested domain.
package matching
