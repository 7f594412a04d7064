package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/adversarial"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// hostileHandler is the example's handler on a seeded in-memory store, called
// directly (no network), so what it reads of a body is counted exactly.
func hostileHandler(t *testing.T, log *slog.Logger) (http.Handler, *memory.Store) {
	t.Helper()
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	require.NoError(t, seed(ctx, store))
	now := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	h, err := newServer(ctx, config{Store: store, Network: seeded.Network, Now: func() time.Time { return now }, Log: log})
	require.NoError(t, err)
	return h, store
}

// serve runs one request through h and returns the status and body.
func serve(h http.Handler, method, path string, headers map[string]string, body io.Reader) (int, []byte) {
	req := httptest.NewRequest(method, path, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// TestHostileBodies sends the adversarial corpus in every request body the API
// reads. Each hostile body is refused as the client's fault (400, or 413 past
// the 64 KiB limit), never a 500; the answer is short and quotes none of it;
// nothing is written; and a body is read to at most 64 KiB, however long.
func TestHostileBodies(t *testing.T) {
	h, store := hostileHandler(t, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	sent, err := lifecycle.New(store, store, lifecycle.Options{})
	require.NoError(t, err)
	ref, err := sent.Create(ctx, referral.Actor{Network: seeded.Network, Organization: seeded.Clinic, Role: referral.RoleStaff, User: "n"},
		lifecycle.CreateRequest{Person: seeded.Person, Receiver: seeded.FoodBank, Needs: foodNeed, Send: true})
	require.NoError(t, err)
	person := seeded.Person.String()
	str := func(name, valid string) adversarial.Slot {
		return adversarial.Slot{Name: name, Kind: adversarial.String, Valid: valid}
	}
	for _, ep := range []struct {
		path string
		tmpl adversarial.Template
	}{
		{"/screenings", adversarial.Template{
			Doc:   `{"person_id":"` + person + `","instrument":@instrument@,"answers":{"88122-7":@answer@,"88123-5":"Sometimes true"}}`,
			Slots: []adversarial.Slot{str("instrument", `"hunger-vital-sign"`), str("answer", `"Often true"`)},
		}},
		{"/matches", adversarial.Template{
			Doc: `{"person":{"household_size":@household@,"income_annual":@income@,"county":@county@,"attributes":{"k":@attribute@}},` +
				`"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":@lat@,"longitude":-87.84},"radius_m":10000}`,
			Slots: []adversarial.Slot{
				{Name: "household", Kind: adversarial.Integer, Valid: "3"}, {Name: "income", Kind: adversarial.Number, Valid: "28000"},
				str("county", `"Lake"`), str("attribute", `"x"`), {Name: "lat", Kind: adversarial.Number, Valid: "42.36"},
			},
		}},
		{"/referrals", adversarial.Template{
			Doc: `{"person_id":@person@,"receiver_id":"` + seeded.FoodBank.String() + `","needs":[{"domain":@domain@,"urgency":"routine"}],` +
				`"send":true,"note":@note@}`,
			Slots: []adversarial.Slot{str("person", `"`+person+`"`), str("domain", `"food-insecurity"`), str("note", `"Family of three."`)},
		}},
		{"/referrals/" + ref.ID.String() + "/note", adversarial.Template{
			Doc:   `{"note":@note@}`,
			Slots: []adversarial.Slot{str("note", `"Called, no answer."`)},
		}},
	} {
		t.Run(ep.path, func(t *testing.T) {
			status, body := serve(h, http.MethodPost, ep.path, clinicStaff, bytes.NewReader(ep.tmpl.Valid()))
			require.Less(t, status, 300, "the template is accepted: %s", body)
			before := written(t, store)
			for _, c := range ep.tmpl.Cases() {
				status, body := serve(h, http.MethodPost, ep.path, clinicStaff, bytes.NewReader(c.Data))
				if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
					t.Errorf("%s: answered %d, not 400 or 413: %.200s", c.Name, status, body)
					continue
				}
				if len(body) > 400 {
					t.Errorf("%s: the answer quotes the body: %.400s", c.Name, body)
				}
				var e errorBody
				require.NoError(t, json.Unmarshal(body, &e), c.Name)
			}
			require.Equal(t, before, written(t, store), "a refused request writes nothing")

			huge := adversarial.Framed(strings.TrimSuffix(string(ep.tmpl.Valid()), "}")+`,"x":"`, 'a', 100<<20, `"}`)
			status, _ = serve(h, http.MethodPost, ep.path, clinicStaff, huge)
			require.Equal(t, http.StatusRequestEntityTooLarge, status)
			require.LessOrEqual(t, huge.N(), int64(maxBody+64<<10), "a body is read to the limit, not to its end")
		})
	}
}

// written counts what the API can have written: screenings of the seeded
// person, referrals and the network's events.
func written(t *testing.T, store *memory.Store) [3]int {
	ctx := context.Background()
	screenings, err := store.ListScreenings(ctx, seeded.Network, seeded.Person)
	require.NoError(t, err)
	events, err := store.Feed(ctx, storage.FeedQuery{Network: seeded.Network, Limit: storage.MaxLimit})
	require.NoError(t, err)
	refs, _, err := store.ListReferrals(ctx, storage.ReferralQuery{Network: seeded.Network, Page: storage.Page{Limit: storage.MaxLimit}})
	require.NoError(t, err)
	return [3]int{len(screenings), len(refs), len(events)}
}
