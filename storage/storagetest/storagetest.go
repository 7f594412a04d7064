package storagetest

import (
	"testing"

	"github.com/refkit/refkit/storage"
)

// Run runs the conformance suite against the backend newStore builds. Every
// subtest gets a fresh, empty store from newStore; the backend releases it
// through t.Cleanup. Run calls Close only in its Close subtest, so the
// backend's cleanup must accept a store closed already. The subtests run in
// parallel (t.Parallel), so newStore must be safe to call concurrently.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	suite := []struct {
		name string
		test func(t *testing.T, s storage.Store)
	}{
		{"Networks", testNetworks},
		{"Organizations", testOrganizations},
		{"Services", testServices},
		{"Persons", testPersons},
		{"Consents", testConsents},
		{"Screenings", testScreenings},
		{"Validation", testValidation},
		{"References", testReferences},
		{"CrossNetwork", testCrossNetwork},
		{"CreateReferral", testCreateReferral},
		{"Idempotency", testIdempotency},
		{"UpdateReferral", testUpdateReferral},
		{"ReferralEvents", testReferralEvents},
		{"Feed", testFeed},
		{"FeedNotifier", testFeedNotifier},
		{"ListReferrals", testListReferrals},
		{"ListPaging", testListPaging},
		{"Visibility", testVisibility},
		{"DueReferrals", testDueReferrals},
		{"Aliasing", testAliasing},
		{"Context", testContext},
		{"Concurrency", testConcurrency},
		{"CitedScreenings", testCitedScreenings},
		{"Limits", testLimits},
		{"ErasePerson", testErasePerson},
		{"Close", testClose},
		{"DirectoryFeed", testDirectoryFeed},
		{"DirectoryFeedLimits", testDirectoryFeedLimits},
		{"CapacityAdjustments", testCapacityAdjustments},
		{"DirectoryChanged", testDirectoryChanged},
		{"DirectoryFeedTail", testDirectoryFeedTail},
		{"DirectoryBatch", testDirectoryBatch},
		{"DirectoryFeedClose", testDirectoryFeedClose},
		{"DirectoryFeedContext", testDirectoryFeedContext},
		{"ConfidentialRecords", testConfidentialRecords},
	}
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}
