package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// BenchmarkReferralLoop measures the API layer's cost: one op is a whole loop
// through the handler (create and send, acknowledge, accept, start, complete
// with If-Match) on the memory store, with no network and no token
// verification, so it is what the handler adds to the lifecycle.
func BenchmarkReferralLoop(b *testing.B) {
	store := memory.New()
	defer store.Close()
	ids := referral.NewIDGenerator(time.Now, nil)
	engine, err := lifecycle.New(store, store, lifecycle.Options{IDs: ids})
	if err != nil {
		b.Fatal(err)
	}
	network, clinic, pantry, person := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	actors := map[string]referral.Actor{
		"admin":    {Network: network, Organization: clinic, Role: referral.RoleAdmin},
		"sender":   {Network: network, Organization: clinic, Role: referral.RoleStaff, User: "s"},
		"receiver": {Network: network, Organization: pantry, Role: referral.RoleStaff, User: "r"},
	}
	h, err := api.New(store, engine, api.Options{IDs: ids, Authenticator: api.AuthenticatorFunc(func(r *http.Request) (referral.Actor, error) {
		return actors[r.Header.Get("Authorization")], nil
	})})
	if err != nil {
		b.Fatal(err)
	}
	send := func(as, method, path string, body []byte, ifMatch string, want int) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(context.Background(), method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", as)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec
	}
	send("admin", "PUT", "/network", []byte(`{"name":"n"}`), "", 200)
	send("admin", "PUT", "/organizations/"+clinic.String(), []byte(`{"name":"c"}`), "", 200)
	send("admin", "PUT", "/organizations/"+pantry.String(), []byte(`{"name":"p"}`), "", 200)
	send("sender", "PUT", "/persons/"+person.String(), []byte(`{}`), "", 200)
	send("sender", "PUT", "/consents/"+ids.MustNew().String(), []byte(`{"person_id":"`+person.String()+`","grantee_organization_id":"`+pantry.String()+`","scope":"referral"}`), "", 200)
	create := []byte(`{"person_id":"` + person.String() + `","receiver_organization_id":"` + pantry.String() + `","send":true,"needs":[{"domain":"food-insecurity","urgency":"routine"}]}`)
	complete := []byte(`{"outcome":{"code":"got-help"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var ref referral.Referral
		if err := json.Unmarshal(send("sender", "POST", "/referrals", create, "", 201).Body.Bytes(), &ref); err != nil {
			b.Fatal(err)
		}
		path := "/referrals/" + ref.ID.String() + "/"
		for v, cmd := range []string{"acknowledge", "accept", "start"} {
			send("receiver", "POST", path+cmd, nil, `"`+strconv.Itoa(v+1)+`"`, 200)
		}
		send("receiver", "POST", path+"complete", complete, `"4"`, 200)
	}
}
