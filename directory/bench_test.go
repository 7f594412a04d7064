package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/sqlite"
)

// benchDirectory is n services of 50 organizations, each record about the
// size of a real one: a location with an address, a schedule, two phones, an
// eligibility rule, and 1 KB of kept HSDS data.
func benchDirectory(n int) directory.Records {
	var recs directory.Records
	for i := range 50 {
		o := org(i+1, "Agency "+strconv.Itoa(i))
		o.Phones = []referral.Phone{{ID: "op" + strconv.Itoa(i), Number: "+1-614-555-01" + strconv.Itoa(10+i%90)}}
		recs.Organizations = append(recs.Organizations, o)
	}
	kept, _ := json.Marshal(map[string]any{
		"program":  map[string]any{"id": "p1", "name": "Community food program", "alternate_name": "CFP"},
		"funding":  []any{map[string]any{"id": "f1", "source": "County general fund and a state block grant"}},
		"metadata": []any{map[string]any{"id": "m1", "resource_id": "r", "last_action_date": "2026-01-01", "last_action_type": "update", "field_name": "name", "previous_value": "Old name of the service", "replacement_value": "New name", "updated_by": "data steward"}},
		"attributes": []any{map[string]any{"id": "a1", "taxonomy_term_id": "t1", "value": "weekly",
			"taxonomy_term": map[string]any{"id": "t1", "code": "BD-1800.2000", "name": "Food Pantries", "taxonomy": "AIRS"}}},
		"accreditations": "State certified since 2004; audited yearly by the county food council",
	})
	for i := range n {
		s := service(2000+i, id(1+i%50), "service "+strconv.Itoa(i))
		s.ID = referral.MustParseID(fmt.Sprintf("0190a6f0-8a4b-7c3d-9e2f-1%011d", i))
		s.Locations[0].ID = referral.MustParseID(fmt.Sprintf("0190a6f0-8a4b-7c3d-9e2f-2%011d", i))
		s.Locations[0].Latitude = 39.8 + float64(i%400)/1000
		s.Locations[0].Longitude = -83.2 + float64(i/400)/1000
		s.Locations[0].Address = &referral.Address{Address1: strconv.Itoa(100+i) + " Main St", City: "Columbus", StateProvince: "OH", PostalCode: "43215", Country: "US"}
		s.Description = "Groceries for households in need, no appointment needed; bring an ID if you have one."
		s.Eligibility = "household_size >= 1 && fpl_percent <= 200"
		s.Phones = []referral.Phone{{ID: "p" + strconv.Itoa(i), Number: "+1-614-555-0100"}, {Number: "+1-614-555-0101", Type: "text"}}
		s.Schedules = []referral.Schedule{{Freq: referral.Weekly, ByDay: []string{"MO", "WE", "FR"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/New_York"}}
		s.Capacity = &referral.Capacity{Available: 10, Maximum: 20}
		s.HSDS = kept
		recs.Services = append(recs.Services, s)
	}
	return recs
}

// BenchmarkLoad measures import throughput: a directory of 1,000 services
// loaded into an empty store ("new", in batches; "new-per-record", one write
// per record, as on a store without storage.DirectoryBatch), and loaded again
// unchanged ("again", which compares and writes nothing). It reports
// services per second.
func BenchmarkLoad(b *testing.B) {
	const n = 1000
	recs := benchDirectory(n)
	for _, be := range backends {
		for _, mode := range []string{"new", "new-per-record"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				ctx := context.Background()
				var spent time.Duration
				for b.Loop() {
					b.StopTimer()
					s, _ := be.open(b)
					putNetwork(b, s)
					var loader directory.Loader = s
					if mode == "new-per-record" {
						loader = plainStore{s} // no batches: one write per record
					}
					b.StartTimer()
					start := time.Now()
					rep, err := directory.Load(ctx, loader, network, recs, directory.LoadOptions{})
					spent += time.Since(start)
					require.NoError(b, err)
					require.Len(b, rep.Services.Added, n)
				}
				b.ReportMetric(float64(n*b.N)/spent.Seconds(), "services/s")
			})
		}
		b.Run(be.name+"/again", func(b *testing.B) {
			ctx := context.Background()
			s, _ := be.open(b)
			putNetwork(b, s)
			_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			require.NoError(b, err)
			start := time.Now()
			for b.Loop() {
				rep, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
				require.NoError(b, err)
				require.Len(b, rep.Services.Unchanged, n)
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "services/s")
		})
	}
}

// BenchmarkFeedToIndex measures how long a directory change takes to reach a
// running Index over a directory of 1,000 services: from the moment the
// write returns to the moment the index has applied it (the writer reads the
// feed head before its write, the only one, and Wait returns when the index
// has applied the change after it). The
// writer is the index's own store ("same") or a second store on the same
// database ("other", as another process: SQLite wakes the follower by
// polling the feed head, every 250 ms by default or every 10 ms as set here;
// PostgreSQL by NOTIFY). A change is a capacity (the matching index's cheap
// path) or a whole service (a rebuild of the snapshot). It reports the median
// and the 90th percentile.
func BenchmarkFeedToIndex(b *testing.B) {
	recs := benchDirectory(1000)
	target := recs.Services[500]
	type writer struct {
		name string
		poll time.Duration // SQLite's poll for the other store's follower
	}
	for _, be := range backends {
		writers := []writer{{name: "same"}}
		switch be.name {
		case "sqlite":
			writers = append(writers, writer{"other-poll-250ms", sqlite.DefaultPollInterval}, writer{"other-poll-10ms", 10 * time.Millisecond})
		case "postgres":
			writers = append(writers, writer{name: "other"})
		}
		for _, w := range writers {
			for _, kind := range []string{"capacity", "service"} {
				b.Run(be.name+"/"+w.name+"/"+kind, func(b *testing.B) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					s, where := be.open(b)
					putNetwork(b, s)
					_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
					require.NoError(b, err)
					follower, write := s, s
					switch {
					case w.poll > 0:
						st, err := sqlite.Open(ctx, where, sqlite.Options{PollInterval: w.poll})
						require.NoError(b, err)
						b.Cleanup(func() { require.NoError(b, st.Close()) })
						follower = st
					case w.name != "same":
						write = be.reopen(b, where)
					}
					ix, err := directory.NewIndex(ctx, follower, network, directory.IndexOptions{})
					require.NoError(b, err)
					go ix.Run(ctx)
					var lat []time.Duration
					i := 0
					for b.Loop() {
						i++
						// One writer to one network: the write's change is
						// the one after the head.
						h, err := write.DirectoryHead(ctx, network)
						require.NoError(b, err)
						if kind == "capacity" {
							err = write.SetCapacity(ctx, network, target.ID, &referral.Capacity{Available: i % 20, Maximum: 20})
						} else {
							next := target
							next.Description = "Edition " + strconv.Itoa(i)
							err = write.PutService(ctx, next)
						}
						require.NoError(b, err)
						written := time.Now()
						require.NoError(b, ix.Wait(ctx, h+1))
						lat = append(lat, time.Since(written))
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds()), "p90-µs")
				})
			}
		}
	}
}
