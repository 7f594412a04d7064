// Package synth generates a synthetic national service directory and query mix,
// and runs the matching benchmark harness over them: latency percentiles of the
// H3 index with explanations off and on, the same-run ratio against a linear scan
// over every service, index build time and bytes per service, and a check that
// index and scan return identical results.
//
// Run the report with
//
//	REFKIT_BENCH_REPORT=1 go test ./matching/synth -run TestReport -v
//
// and the Go benchmarks with go test ./matching/synth -bench .
package synth
