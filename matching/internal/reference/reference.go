// Package reference hands the matcher's linear scan, the reference the geo index
// is tested and benchmarked against, to the benchmark harness in matching/synth,
// without making it part of matching's public API.
package reference

// Scan is set by package matching to its snapshots' linear scan, of type
// func(*matching.Snapshot, context.Context, matching.Request) (matching.Result, error).
// It answers exactly what Snapshot.Match answers, examining every service.
var Scan any
