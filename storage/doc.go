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
// Every backend's errors wrap the referral sentinels, referral.ErrUnavailable
// included for a backend that cannot do the work now, or one of this package's
// own: ErrClosed after Close, ErrSchemaBehind and ErrNewerSchema when the
// database and the code disagree about the schema. A host tests for them with
// errors.Is, whichever backend it runs. The same limits (MaxLimit,
// MaxStatuses), the same access rule (Visibility: a referral never sent is its
// sender's alone) and the same check on the screenings a referral's needs cite
// hold on every backend; storagetest holds each backend to them.
//
// Directory writes have a feed of their own: a store that implements
// DirectoryFeed (every refkit backend does) records each write to a network's
// organizations and services, and each capacity change, in an ordered
// per-network feed, atomically with the write, with the referral feed's
// cursor semantics and wake-ups; package directory keeps matching indexes and
// catalogs current from it, in every process. DirectoryBatch writes many
// directory records in one atomic write.
//
// Every backend also implements Eraser: ErasePerson removes a person's personal
// data (their record, screening answers, consent documents, outcome notes and
// the notes on their referrals' events) in one write, and keeps every id,
// status, count and feed position, so metrics and followers are unaffected. It
// is an interface of its own, not part of Store, so a host's own Store keeps
// compiling.
//
// # Dependencies
//
// Outside the standard library, storage links only what referral links:
// github.com/google/uuid. A host implementing it for its own system takes on no
// database driver.
package storage
