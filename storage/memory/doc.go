// Package memory is an in-memory storage.Store: complete, concurrency-safe and
// fast, for tests, simulations and hosts that do not need durability.
//
// Records are copied in and out, so callers may mutate what they pass and get.
// One RWMutex guards the store; every write, a referral with its event included,
// happens whole under it, which is what makes it atomic.
//
// Directory records (organizations, services, persons, consents, screenings)
// each live in a table: the records by id plus, for the kinds that are listed,
// an ordered set of ids per network or per person.
//
// Referrals are indexed by network, sender, receiver and person (each an ordered
// set of ids, so listings page in id order without sorting), and by deadline
// across networks for the sweep. The sender, receiver and person indexes are
// built by the first listing (or erasure) that needs them and kept from then
// on, so a store only written and read by id, like a simulation's, never pays
// for them. Events live in one append-only log whose index
// is the feed position; each network keeps the positions of its own events and
// each event links to its referral's previous one, so reads never scan
// unrelated data. The log stores events, and the store its referrals, in a
// pointer-free form (strings that repeat kept once, times as integers), so a
// store holding millions of referrals and events adds nothing to
// garbage-collection scanning and reads a referral from a few cache lines;
// callers still give and get whole referral.Referral values.
//
// Each network also keeps its directory feed (storage.DirectoryFeed): the
// changes its directory writes append, as values in position order, with the
// capacity cursor and a channel that DirectoryChanged hands out and the next
// change closes.
//
// Event times are kept without their monotonic clock reading (as any database
// would), in the location they were given.
//
// The lifecycle's hot path, GetReferral then UpdateReferral, allocates once (the
// copy GetReferral hands out); see BenchmarkGetUpdate.
//
// # Dependencies
//
// Outside the standard library, memory links only what referral links:
// github.com/google/uuid.
package memory
