// Package storagetest is the conformance suite for storage backends. A backend's
// tests call Run once:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return newTestStore(t) })
//	}
//
// The suite checks the contract written in package storage: network scoping,
// copying in and out, validation before any write, idempotent and
// version-conditioned referral writes with their events, needs that cite only
// the referral's person's own screenings, feed cursors, listing filters and
// paging and their shared limits, the Visibility rule (by comparing each
// backend's filtering with Visibility.Allows, unsent referrals included),
// deadlines, context cancellation, a concurrent workload whose event log must
// replay to the stored referrals, and Close (every call afterwards is
// storage.ErrClosed; closing twice is harmless). Run's subtests for Close
// close their store themselves, so a backend's cleanup closes it a second
// time.
//
// For backends that implement storage.DirectoryFeed (all of refkit's) the
// suite also checks the directory feed: every directory write appends one
// change atomically with it and a failed one appends nothing; cursors, limits
// and per-network feeds work as the referral feed's do; capacity writes change
// the capacity only and are recorded with it; AdjustCapacity applies each cause
// once, within [0, Maximum], and keeps the cursor; DirectoryChanged wakes at
// the network's next change and only then; a reader tailing the feed while
// writers race sees every change once; confidential flags and access grants
// are stored like any field. For storage.DirectoryBatch it checks that a batch
// is written whole, organizations first, each record with its change, or not
// at all.
//
// Where the storage contract leaves a choice open the suite pins it down, so all
// backends agree:
//   - A listing's next cursor is zero exactly when no further match exists; a
//     caller paging until the cursor is zero never fetches an empty page.
//   - Listings of a network, person or referral that does not exist are empty, not
//     ErrNotFound; a zero network id on a listing or feed is ErrInvalid.
//   - CreateReferral needs the referral's network to exist (ErrNotFound) and
//     requires Version and Sequence 1; the suite does not require the person or
//     organizations a referral names to exist, but always stores them.
//   - CreateReferral checks, in order: validation (ErrInvalid), the network
//     (ErrNotFound), an idempotent replay (returned as is), the cited screenings
//     (ErrInvalid), then the id (ErrConflict).
//   - UpdateReferral checks, in order: validation (ErrInvalid), existence in the
//     network (ErrNotFound), the version (ErrConflict), the event's From
//     against the stored status (ErrInvalid), then the cited screenings
//     (ErrInvalid).
//   - DueReferrals' limit follows storage.Limit: 0 is DefaultLimit.
//
// Fixture and the helpers around it (Next, CreatedEvent, FeedAll, ListAll) are
// exported so backends' own tests can build consistent data the same way.
//
// # Dependencies
//
// Outside the standard library, storagetest imports
// github.com/stretchr/testify (its assertions), and through referral
// github.com/google/uuid. Only tests import it.
package storagetest
