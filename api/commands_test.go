package api_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/referral"
)

// step is one command in a scenario: who runs it, with what body and
// headers, the status it answers and, on success, where the referral is.
type step struct {
	as       string // sender, receiver, delegate or third
	cmd      string
	body     map[string]any
	ifMatch  bool // send the referral's current version as If-Match
	status   int
	slug     string // the problem's slug, when status is an error
	want     referral.Status
	business referral.BusinessStatus
	event    referral.EventType
}

// TestCommandScenarios runs every command the FHIR-IG work added (waitlist,
// schedule, no-show, request-cancel, confirm-cancel, refuse-cancel) over HTTP,
// with the conventions of the others: the lifecycle's access rules (403),
// invalid transitions (409), reasons checked against the code lists (400),
// If-Match versions (412 when stale) and the event each records.
func TestCommandScenarios(t *testing.T) {
	accepted := []step{{as: "receiver", cmd: "accept", status: 200, want: referral.StatusAccepted}}
	started := append(accepted, step{as: "receiver", cmd: "start", status: 200, want: referral.StatusInProgress})
	cancelReq := step{as: "sender", cmd: "request-cancel", body: map[string]any{"reason": "referred-elsewhere"}, ifMatch: true, status: 200,
		want: referral.StatusAccepted, business: referral.BusinessCancelRequested, event: referral.EventCancelRequested}
	tests := []struct {
		name  string
		steps []step
	}{
		{"waitlist a requested referral", []step{
			{as: "receiver", cmd: "waitlist", body: map[string]any{"note": "about two weeks"}, ifMatch: true, status: 200,
				want: referral.StatusAccepted, business: referral.BusinessWaitlisted, event: referral.EventWaitlisted},
			{as: "receiver", cmd: "waitlist", status: 409, slug: "invalid-transition"},
			{as: "receiver", cmd: "schedule", status: 200, want: referral.StatusAccepted, business: referral.BusinessScheduled, event: referral.EventScheduled},
		}},
		{"only the receiver waitlists", []step{
			{as: "sender", cmd: "waitlist", status: 403, slug: "forbidden"},
			{as: "third", cmd: "waitlist", status: 404, slug: "not-found"},
		}},
		{"schedule, no-show, schedule again", append(started,
			step{as: "receiver", cmd: "schedule", body: map[string]any{"note": "Tuesday 10:00"}, ifMatch: true, status: 200,
				want: referral.StatusInProgress, business: referral.BusinessScheduled, event: referral.EventScheduled},
			step{as: "sender", cmd: "no-show", status: 403, slug: "forbidden"},
			step{as: "receiver", cmd: "no-show", ifMatch: true, status: 200,
				want: referral.StatusInProgress, business: referral.BusinessNoShow, event: referral.EventNoShow},
			step{as: "receiver", cmd: "no-show", status: 409, slug: "invalid-transition"},
			step{as: "receiver", cmd: "schedule", status: 200, want: referral.StatusInProgress, business: referral.BusinessScheduled},
		)},
		{"no-show needs an appointment", append(accepted,
			step{as: "receiver", cmd: "no-show", status: 409, slug: "invalid-transition"})},
		{"a requested cancellation confirmed", append(accepted,
			step{as: "sender", cmd: "cancel", body: map[string]any{"reason": "referred-elsewhere"}, status: 409, slug: "invalid-transition"},
			step{as: "sender", cmd: "request-cancel", status: 400, slug: "invalid"},
			step{as: "sender", cmd: "request-cancel", body: map[string]any{"reason": "not-a-code"}, status: 400, slug: "invalid"},
			step{as: "receiver", cmd: "request-cancel", body: map[string]any{"reason": "referred-elsewhere"}, status: 403, slug: "forbidden"},
			cancelReq,
			step{as: "receiver", cmd: "start", status: 409, slug: "invalid-transition"},
			step{as: "sender", cmd: "confirm-cancel", status: 403, slug: "forbidden"},
			step{as: "receiver", cmd: "confirm-cancel", body: map[string]any{"note": "understood"}, ifMatch: true, status: 200,
				want: referral.StatusCancelled, event: referral.EventCancelled},
		)},
		{"a requested cancellation refused", append(started,
			step{as: "delegate", cmd: "request-cancel", body: map[string]any{"reason": "client-declined"}, status: 200,
				want: referral.StatusInProgress, business: referral.BusinessCancelRequested, event: referral.EventCancelRequested},
			step{as: "delegate", cmd: "request-cancel", body: map[string]any{"reason": "client-declined"}, status: 409, slug: "invalid-transition"},
			step{as: "receiver", cmd: "refuse-cancel", body: map[string]any{"note": "the course ends next week"}, ifMatch: true, status: 200,
				want: referral.StatusInProgress, business: referral.BusinessCancelRefused, event: referral.EventCancelRefused},
			step{as: "receiver", cmd: "confirm-cancel", status: 409, slug: "invalid-transition"},
			step{as: "receiver", cmd: "complete", body: map[string]any{"outcome": map[string]any{"code": "got-help"}}, status: 200,
				want: referral.StatusCompleted, event: referral.EventCompleted},
		)},
		{"nothing to confirm or refuse", append(accepted,
			step{as: "receiver", cmd: "confirm-cancel", status: 409, slug: "invalid-transition"},
			step{as: "receiver", cmd: "refuse-cancel", status: 409, slug: "invalid-transition"},
		)},
	}
	hs := newHarness(t)
	a := hs.newNetwork("a")
	hs.seed(a)
	names := map[string]string{"sender": a.sender, "receiver": a.receiver, "delegate": a.delegate, "third": a.third}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs.t = t
			var ref referral.Referral
			hs.must(201, a.sender, "POST", "/referrals", map[string]any{"person_id": a.person, "receiver_organization_id": a.foodbank,
				"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "send": true}).decode(t, &ref)
			path := "/referrals/" + ref.ID.String()
			for i, s := range tc.steps {
				var headers []string
				if s.ifMatch {
					headers = []string{"If-Match", `"` + strconv.FormatInt(ref.Version, 10) + `"`}
				}
				var body any
				if s.body != nil {
					body = s.body
				}
				res := hs.do(names[s.as], "POST", path+"/"+s.cmd, body, headers...)
				require.Equal(t, s.status, res.status, "step %d (%s %s): %s", i, s.as, s.cmd, res.body)
				if s.status != 200 {
					require.Equal(t, api.ProblemType+s.slug, res.problem(t).Type, "step %d", i)
					continue
				}
				ref = referral.Referral{} // a field the answer omits must not survive from the last one
				res.decode(t, &ref)
				require.Equal(t, s.want, ref.Status, "step %d", i)
				require.Equal(t, s.business, ref.BusinessStatus, "step %d", i)
				require.Equal(t, `"`+strconv.FormatInt(ref.Version, 10)+`"`, res.header.Get("ETag"))
				if s.event != "" {
					var history struct{ Events []referral.Event }
					hs.must(200, a.sender, "GET", path+"/history", nil).decode(t, &history)
					require.Equal(t, s.event, history.Events[len(history.Events)-1].Type, "step %d", i)
				}
			}
		})
	}
}

// TestCommandRetries: a retried command (If-Match and Idempotency-Key) whose
// first attempt took effect is answered 200 with the referral as it left it,
// for each new command; a different command at the same stale version is
// 412, even one recording the same event (cancel after confirm-cancel).
func TestCommandRetries(t *testing.T) {
	hs := newHarness(t)
	a := hs.newNetwork("a")
	hs.seed(a)
	tests := []struct {
		name  string
		setup []string // receiver commands before the one retried (request-cancel is the sender's)
		as    string
		cmd   string
		body  map[string]any
		other string // a command the same actor may not replay at the same version
	}{
		{"waitlist", nil, a.receiver, "waitlist", nil, "accept"},
		{"schedule", []string{"accept"}, a.receiver, "schedule", map[string]any{"note": "Monday"}, "waitlist"},
		{"no-show", []string{"accept", "schedule"}, a.receiver, "no-show", nil, "schedule"},
		{"request-cancel", []string{"accept"}, a.sender, "request-cancel", map[string]any{"reason": "client-declined"}, "cancel"},
		{"confirm-cancel", []string{"accept", "request-cancel"}, a.receiver, "confirm-cancel", nil, "cancel"},
		{"refuse-cancel", []string{"accept", "request-cancel"}, a.receiver, "refuse-cancel", map[string]any{"note": "nearly done"}, "confirm-cancel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs.t = t
			var ref referral.Referral
			hs.must(201, a.sender, "POST", "/referrals", map[string]any{"person_id": a.person, "receiver_organization_id": a.foodbank,
				"needs": []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}, "send": true}).decode(t, &ref)
			path := "/referrals/" + ref.ID.String()
			for _, c := range tc.setup {
				as, body := a.receiver, map[string]any(nil)
				if c == "request-cancel" {
					as, body = a.sender, map[string]any{"reason": "no-longer-needed"}
				}
				hs.must(200, as, "POST", path+"/"+c, body).decode(t, &ref)
			}
			version := `"` + strconv.FormatInt(ref.Version, 10) + `"`
			var first, retry referral.Referral
			hs.must(200, tc.as, "POST", path+"/"+tc.cmd, tc.body, "If-Match", version, "Idempotency-Key", "k-"+tc.name).decode(t, &first)
			hs.must(200, tc.as, "POST", path+"/"+tc.cmd, tc.body, "If-Match", version, "Idempotency-Key", "k-"+tc.name).decode(t, &retry)
			require.Equal(t, first, retry, "the retry is answered with the referral the first attempt left")
			require.Equal(t, ref.Version+1, retry.Version, "and nothing was applied twice")
			var otherBody any
			if tc.other == "cancel" {
				otherBody = map[string]any{"reason": "client-declined"}
			}
			hs.must(412, tc.as, "POST", path+"/"+tc.other, otherBody, "If-Match", version, "Idempotency-Key", "k-"+tc.name)
		})
	}
}
