package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/internal/backendtest"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// store is what the tests need of a backend: everything refkit's have.
type store = backendtest.Store

// backend opens an empty store of one kind, closed when the test ends; see
// backendtest.Backend.
type backend struct {
	name   string
	open   func(t testing.TB) (store, string)
	reopen func(t testing.TB, where string) store
}

// backends are every store refkit ships, SQLite polling often so that another
// process's changes show quickly; PostgreSQL needs REFKIT_TEST_POSTGRES_URL
// and skips without it.
var backends = func() []backend {
	var out []backend
	for _, b := range backendtest.All(backendtest.Options{PollInterval: 5 * time.Millisecond}) {
		out = append(out, backend{b.Name, b.Open, b.Reopen})
	}
	return out
}()

// network is the network every test loads into.
var network = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa")

// epoch is the test clock's start.
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// putNetwork stores the test network.
func putNetwork(t testing.TB, s storage.Store) {
	t.Helper()
	require.NoError(t, s.PutNetwork(context.Background(), referral.Network{ID: network, Name: "County Care Network", Created: epoch}))
}

// id returns a fixed UUIDv7 for small n, so records sort in n order.
func id(n int) referral.ID {
	v := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000000")
	v[14], v[15] = byte(n>>8), byte(n)
	return v
}

func org(n int, name string) referral.Organization {
	return referral.Organization{ID: id(n), Network: network, Name: name}
}

// service returns a food service of organization o at a point near the test
// request, n metres or so north for n below 100.
func service(n int, o referral.ID, name string) referral.Service {
	return referral.Service{
		ID: id(n), Network: network, Organization: o, Name: name, Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity},
		Locations: []referral.Location{{ID: id(n + 1000), Latitude: 39.96 + float64(n)/10000, Longitude: -83.0}},
		HSDS:      []byte(`{"program":{"id":"prog-` + name + `","name":"Food","funding":[{"source":"County"}]}}`),
	}
}

// sample is a small directory: two organizations, three services.
func sample() directory.Records {
	pantry, clinic := org(1, "Eastside Pantry"), org(2, "Riverside Clinic")
	return directory.Records{
		Organizations: []referral.Organization{pantry, clinic},
		Services: []referral.Service{
			service(10, pantry.ID, "groceries"), service(11, pantry.ID, "meals"), service(12, clinic.ID, "vouchers"),
		},
	}
}
