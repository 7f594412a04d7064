// Package harness runs the matching benchmark over the synthetic directory of
// package matching/synth: latency percentiles of the H3 index with explanations
// off and on, the same-run ratio against a linear scan over every service, index
// build time and bytes per service, and a check that index and scan return
// identical results.
//
// With a PostgreSQL + PostGIS database (Options.PostgresURL;
// matching/synth/postgis-server.sh starts a throwaway one) the harness also loads
// the directory into PostGIS, one row per service location with a geography
// point under a GiST index, and runs the engine's predicates in SQL: ST_DWithin
// on the sphere, active, domain bitmask, capacity, HSDS age limits and each
// eligibility rule template's SQL form (the generator keeps the expr and SQL
// forms side by side, in matching/synth/internal/rulemix). PostGIS returns every
// eligible service with its nearest location and distance; the harness checks
// that set equals the index's complete match list for every request, and reports
// both latencies, timed in turn on the same requests, and their ratio. Ranking
// is not redone in SQL: it is a function of the eligible set.
//
// The harness is a benchmark tool, not part of the library: no refkit library
// package imports it, so the PostgreSQL driver it needs stays out of their
// builds. Run the report with
//
//	export REFKIT_BENCH_POSTGRES_URL=$(matching/synth/postgis-server.sh)  # optional
//	REFKIT_BENCH_REPORT=1 go test ./matching/synth/harness -run TestReport -v
//
// # Dependencies
//
// Outside the standard library, harness links github.com/jackc/pgx/v5 (the
// PostGIS connection) and what refkit's matching and referral link:
// github.com/expr-lang/expr, github.com/uber/h3-go/v4 (cgo),
// github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace).
package harness
