package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/sqlite"
)

// Open a database file, run a referral through the lifecycle on it, and find
// it again after reopening the file.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "refkit-example")
	must(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "refkit.db")

	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	must(err)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := referral.NewIDGenerator(clock, nil)
	network, clinic, pantry, person := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	must(store.PutNetwork(ctx, referral.Network{ID: network, Name: "Lake County Referral Network"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: clinic, Network: network, Name: "Lakeside Clinic"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: pantry, Network: network, Name: "North Food Bank"}))
	must(store.PutPerson(ctx, referral.Person{ID: person, Network: network}))
	must(store.PutConsent(ctx, referral.Consent{ID: ids.MustNew(), Network: network, Person: person, Grantee: pantry, Scope: referral.ScopeReferral}))

	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock, IDs: ids})
	must(err)
	staff := referral.Actor{Network: network, Organization: clinic, User: "dr-lee", Role: referral.RoleStaff}
	r, err := engine.Create(ctx, staff, lifecycle.CreateRequest{
		Person: person, Receiver: pantry, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	})
	must(err)
	must(store.Close())

	store, err = sqlite.Open(ctx, path, sqlite.Options{Synchronous: sqlite.SyncFull})
	must(err)
	defer store.Close()
	stored, err := store.GetReferral(ctx, network, r.ID)
	must(err)
	events, err := store.ReferralEvents(ctx, network, r.ID)
	must(err)
	fmt.Println(stored.Status, stored.Version, len(events), events[0].Type)
	// Output: requested 1 1 created
}

// New takes a handle the host opened and owns; closing the store leaves it open.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "refkit-example")
	must(err)
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "host.db")+
		"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate")
	must(err)
	defer db.Close()
	store, err := sqlite.New(ctx, db, sqlite.Options{})
	must(err)
	network := referral.NewID()
	must(store.PutNetwork(ctx, referral.Network{ID: network, Name: "Host network"}))
	must(store.Close())

	var count int
	must(db.QueryRowContext(ctx, `SELECT count(*) FROM networks`).Scan(&count))
	fmt.Println(count)
	// Output: 1
}

// A host that migrates explicitly opens with NoMigrate: the store refuses work
// on a database that is behind until Migrate has run, and never changes the
// schema by itself.
func ExampleStore_Migrate() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "refkit-example")
	must(err)
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "refkit.db"), sqlite.Options{NoMigrate: true})
	must(err)
	defer store.Close()
	network := referral.Network{ID: referral.NewID(), Name: "Example County"}
	err = store.PutNetwork(ctx, network)
	fmt.Println("before Migrate:", errors.Is(err, storage.ErrSchemaBehind))

	fmt.Println("migrate:", store.Migrate(ctx))
	fmt.Println("after Migrate:", store.PutNetwork(ctx, network))
	// Output:
	// before Migrate: true
	// migrate: <nil>
	// after Migrate: <nil>
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
