// Package matching finds the services in a directory that can help one person
// with their needs near a place, ranks them, and says why.
//
// An Index holds an immutable Snapshot of the directory: service locations bucketed
// by H3 cell, service areas (county, zip, state, polygon covered by H3 polyfill,
// virtual), and every eligibility rule compiled once. A request reads the buckets
// that may hold a location within its radius (by the measured reach of their
// centres, whatever the hexagons' sizes), keeps the locations within the exact
// great-circle distance (sphere of radius 6,371,008.8 m), adds the services whose
// areas cover the person, then judges each candidate: active, covers a requested
// domain, within the radius (or serves the area), capacity (per Request.Full),
// HSDS age limits, and the eligibility rule. Update builds a new snapshot and swaps it in atomically;
// readers never block. An internal linear scan answers the same request by
// examining every service: it is the reference the index is tested and
// benchmarked against, and Match returns exactly what it returns.
//
// Match, New and Update honour their context: a request checks it before every
// rule it evaluates and every few thousand candidates, New and Update before
// every service they compile, and a done context returns ctx.Err() promptly
// (within one rule's worst case, about 0.13 ms at the default limits).
//
// # How Match is fast
//
// Locations are bucketed by H3 cell at Options.Resolution and the buckets grouped
// by the cell two resolutions coarser; groups are found by the latitude/longitude
// tiles the search's spherical cap touches, and groups and buckets whose centre is
// farther than the radius plus the farthest location actually filed under such a
// centre are dropped before any location is read. Within a bucket, locations are
// kept in one run per domain, laid out domain by domain, with what judging and
// scoring read about their service copied next to each: a request reads only the
// runs of its own domains, in order.
//
// With explanations off, a request wants the best Limit candidates and nothing
// else. It reads the buckets nearest first; a location is scored from its copy
// and judged (capacity, age limits, rule: each distinct rule evaluated at most
// once per request, the simplest forms without the rule VM) only if a bounded
// heap would keep it. Once the heaps are full, their worst entry bounds how far a
// location can lie and still rank: by distance, the worst's distance; by score,
// the distance at which a location's score, with every other term at the most it
// can reach for the request, falls below the worst's (with a nearer bound for the
// services that address one of several requested domains, and the rounding of
// confidential distances allowed for). Locations and buckets beyond that cut are
// dropped unread and the walk stops at the first bucket beyond it, so the result
// is the one the scan returns. Area services are taken best score first and
// stop at the first the heaps reject. With explanations on, every candidate within
// the search radius is kept and exclusion reasons are kept as bits until the
// result is built. Per-request working memory is pooled, so a request allocates
// little beyond its result.
//
// # Eligibility rules
//
// A rule is an expr-lang/expr expression that must be boolean. It is compiled once
// per distinct text (services sharing a text share the program), type-checked
// against Env, and evaluated at most once per request. A rule that does not
// compile, or that the limits below refuse, is rejected with a *RuleError naming
// the service, the reason and expr's line and column. A service without a rule
// has the empty string; a rule of white space only is refused, as CheckRule
// refuses it, rather than read as no rule.
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
// keys values indexOf; the operators, ranges with literal bounds, let, and
// matches with a constant pattern.
//
// # What a rule may cost
//
// Rules come from untrusted sources (a community organization's admin screen, an
// HSDS feed, a scenario file), so every rule is bounded when it is compiled, and
// every admitted rule has a worst-case cost that can be stated. The analysis
// gives every value a rule can build a size bound, from the
// limits Request.Validate enforces on the facts (at most 50 languages of 35
// bytes, 50 needs, 100 attributes of 1,000 bytes, text facts of 100 bytes), from
// literals, and from what each builtin does (split, keys, values, filter, map,
// slices, array literals and let bindings carry their bounds), and charges every
// node one step per evaluation, times the elements of every closure around it,
// plus the string and collection work it does by size. RuleLimits caps:
//
//	MaxCost       10,000 steps   0.13 ms for the most expensive rule built to it
//	MaxDepth      2              closures inside closures, no deeper
//	MaxRange      100            a..b literals; "x in a..b" over an integer is a
//	                             comparison and has no limit
//	MaxPattern    200            instructions of a matches pattern
//	MemoryBudget  10,000         elements the VM allocates; a rule that could reach
//	                             it is refused, and the VM still enforces it
//	MaxLength     4,096 bytes; MaxNodes 500
//
// A step is about one VM instruction (5 to 25 ns measured); BENCHMARKS.md times
// the rules built to cost the most the defaults admit. A rule that cannot be
// bounded is refused with the reason: "closures nest deeper than 2", "range
// 1..1000 is longer than 100", "worst-case cost 172,004 is above 10,000",
// "cannot bound the size of a range whose bounds are not integer literals",
// "builtin reduce is not allowed", "matches needs a constant pattern". CheckRule
// checks a rule under the defaults (the HSDS importer and the simulation's
// scenario loader use it); RuleLimits.Check under other limits, returning the
// cost.
//
// # Unknown facts: three-valued eligibility
//
// A fact the request leaves out is unknown, not false: age without a birth date,
// household_size of 0, income_annual without an income, fpl_percent without an
// income, a household size or a covered state; zip, county, state and insurance
// when empty; languages when the person lists none; veteran, pregnant and
// disabled when nil; attributes["k"] (or attributes.k, or get(attributes, "k"))
// with a constant key the person does not have. needs and urgency are always
// known.
//
// A rule whose facts are all known runs as one program. Otherwise it is
// evaluated in Kleene's logic over its &&, ||, !, and ?: structure: every part
// that reads an unknown fact is unknown, the others run, and "true || unknown" is
// true, "false && unknown" is false, "!unknown" is unknown, and "unknown ? a : b"
// is a when a and b agree. So "veteran || fpl_percent <= 138" admits a veteran
// who gave no income. A part built with let is evaluated whole (unknown when any
// fact it reads is). HSDS age limits with an unknown age are unknown too.
//
// An unknown service is excluded by default with the reason "unknown-fact",
// whose detail names the facts that would settle it ("eligibility rule needs
// income_annual, fpl_percent", "age limits need age"): names, never values.
// With Request.Unknown "include" it is returned instead in Result.Possible, a
// tier ranked as matches are (at most Limit of them), each possible match naming
// those facts in Unknown, so a host can ask the person. A service excluded for
// any other reason (capacity, distance, a false rule) is excluded whatever is
// unknown.
//
// A rule that fails at run time (int("x"), a division by zero) excludes the
// service with the reason "rule-error" and the position of the failing part:
// never expr's message, which could quote the person's values. No reason, error
// or explanation ever holds a value of the person.
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
// through an area are candidates when they cover a requested domain. Every match
// carries its service's Organization, so a referral needs no second lookup. A
// service kept in the directory although it can never match (referral.Service.Unmatchable)
// is explained as "unmatchable": with no domain, when it is a candidate; with no
// location that has coordinates and no area, whenever it covers a requested domain.
//
// # Confidential locations
//
// A confidential location (referral.Location.Confidential: a
// domestic-violence shelter) is indexed and filtered at its exact point, but
// what a result shows of it depends on Request.Viewer, who asks. Its
// organization's own staff and admins and system actors (or whoever
// Options.Disclose admits: package directory adds the organizations'
// ConfidentialAccess grants) see it as any location; everyone else, the
// public (a nil Viewer) included, sees its Vicinity, the H3 cell at
// VicinityResolution that holds it, and its distance rounded to whole
// kilometres, which is also the distance it is scored and ranked by, so
// neither DistanceM, the reasons, the score, its breakdown nor the order tells
// the exact distance. Exclusions are shown the same way. Request.Viewer is
// never read from JSON.
//
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). An Index reports to Options.TracerProvider and
// Options.MeterProvider;
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Spans: "matching match" per request (Index.Match, Snapshot.Match) and
// "matching update" per Update. A request's attributes are counts and codes
// only: refkit.matching.radius (the radius class: 0-1km, 1-5km, 5-10km,
// 10-25km, 25-50km, 50km+), refkit.matching.explain, refkit.matching.needs
// and refkit.matching.limit, and, when it succeeded, refkit.matching.candidates
// (the candidates kept for judging: with explanations off, those judged and
// taken by the bounded heaps; on, every location within the search radius and
// every area candidate), refkit.matching.matches, .possible, .excluded and .services (the
// snapshot's). Never a fact about the person, a point, a domain asked for or
// a rule's text. An update's are refkit.matching.changes,
// refkit.matching.update (rebuild or capacity) and refkit.matching.services.
//
//	metric                                  unit       kind       attributes
//	refkit.matching.requests                {request}  counter    refkit.matching.radius, refkit.matching.explain, error.type
//	refkit.matching.duration                s          histogram  refkit.matching.radius, refkit.matching.explain, error.type
//	refkit.matching.results                 {service}  counter    refkit.matching.tier: match, possible, excluded
//	refkit.matching.index.updates           {update}   counter    refkit.matching.update, error.type
//	refkit.matching.index.update.duration   s          histogram  refkit.matching.update, error.type
//
// # Dependencies
//
// Outside the standard library, matching imports github.com/expr-lang/expr
// (eligibility rules), github.com/uber/h3-go/v4 (the geo index; cgo, so
// building needs a C compiler) and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace), and through referral
// github.com/google/uuid. The OpenTelemetry SDK is the host's to link.
package matching
