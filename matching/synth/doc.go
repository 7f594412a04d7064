// Package synth generates a synthetic national service directory and the query
// mix that goes with it: service locations clustered around US metros in
// proportion to population, SDOH domains, capacity, service areas and a realistic
// mix of eligibility rules that many services share (Directory), and people
// drawn from the same population asking for services near them (Requests). The
// same seed gives the same directory and requests.
//
// The simulation uses it for scenarios with a generated directory; the matching
// benchmarks use it as their workload. The benchmark harness that times the
// index against a linear scan and against PostGIS is package
// matching/synth/harness, kept apart so that a program generating directories
// links no database driver.
//
// The Go benchmarks of the index over 200,000 locations run with
//
//	go test ./matching/synth -run XXX -bench 'Match|Build' -benchmem
//
// # Dependencies
//
// Outside the standard library, synth links only what refkit's matching and
// referral link: github.com/expr-lang/expr, github.com/uber/h3-go/v4 (cgo),
// github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace).
package synth
