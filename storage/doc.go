// Package storage defines what refkit persists and the contract every backend
// keeps: storage/memory (tests, simulations), storage/sqlite (the embedded default)
// and storage/postgres (scale-out). The conformance suite in storage/storagetest
// checks a backend against this contract with one call.
//
// The central rule: a referral and the event recording its change are written in
// one atomic, version-conditioned operation (UpdateReferral). Two writers that read
// the same version cannot both win; the loser gets referral.ErrConflict and nothing
// of its write is stored.
//
// # Dependencies
//
// Outside the standard library, storage links only what referral links:
// github.com/google/uuid. A host implementing it for its own system takes on no
// database driver.
package storage
