package api

import (
	"encoding/json"
	"net/http"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Route is one operation of the API: the table of them registers the
// handlers and generates the OpenAPI document, so the two cannot disagree.
type Route struct {
	// Method and Pattern are the net/http pattern's parts ("GET",
	// "/referrals/{id}").
	Method  string
	Pattern string
	// OperationID names the operation in the OpenAPI document.
	OperationID string
	// Summary says what the operation does, in a few words.
	Summary string
	// Tag groups operations in the document.
	Tag string
	// Roles may call the route; empty means any authenticated actor. Others
	// get 403. Finer rules (who may see which referral) are the library's.
	Roles []referral.Role
	// Public routes need no authentication (health, readiness, the document).
	Public bool
	// Body is a value of the request body's type, nil when the route takes
	// none; BodyOptional allows an empty body.
	Body         any
	BodyOptional bool
	// Query and Headers are the parameters the route reads.
	Query   []Param
	Headers []Param
	// Responses are the route's successful answers; every route may also
	// answer a Problem.
	Responses []Response

	handler handlerFunc
}

// Param is a query or header parameter.
type Param struct {
	Name        string
	Description string
	// Kind is "string", "integer", "uuid" or "date-time".
	Kind     string
	Required bool
}

// Response is one successful answer of a route.
type Response struct {
	Status      int
	Description string
	// Body is a value of the response body's type; nil for no body.
	Body any
	// Media is the body's media type; "" means application/json.
	Media string
	// Headers are the response headers the answer sets.
	Headers []string
}

// Routes returns the route table, without the handlers.
func (h *Handler) Routes() []Route {
	table := h.table()
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = *rt
		out[i].handler = nil
	}
	return out
}

// Media types the API answers with besides application/json.
const (
	mediaFHIR = "application/fhir+json"
	mediaSSE  = "text/event-stream"
)

// Roles in route declarations.
var (
	adminOnly  = []referral.Role{referral.RoleAdmin}
	staffOnly  = []referral.Role{referral.RoleStaff}
	staffAdmin = []referral.Role{referral.RoleStaff, referral.RoleAdmin}
	personSide = []referral.Role{referral.RoleStaff, referral.RoleAdmin, referral.RoleDelegate}
)

// Common parameters.
var (
	pageParams = []Param{
		{Name: "after", Kind: "uuid", Description: "the last id of the previous page (the `next` it returned)"},
		{Name: "limit", Kind: "integer", Description: "page size, 1 to 1000; 0 or absent means 100"},
	}
	ifMatchParam   = Param{Name: "If-Match", Kind: "string", Description: `the referral's version as its ETag ("3"): the command runs only if the referral is still at it, else 412`}
	idempotencyKey = Param{Name: "Idempotency-Key", Kind: "string", Description: "makes a retry safe: the same key from the same organization returns the first result"}
)

// Response bodies that are lists.
type (
	organizationPage struct {
		Organizations []referral.Organization `json:"organizations"`
		Next          referral.ID             `json:"next,omitzero"`
	}
	servicePage struct {
		Services []referral.Service `json:"services"`
		Next     referral.ID        `json:"next,omitzero"`
	}
	referralPage struct {
		Referrals []referral.Referral `json:"referrals"`
		Next      referral.ID         `json:"next,omitzero"`
	}
	consentList struct {
		Consents []referral.Consent `json:"consents"`
	}
	screeningList struct {
		Screenings []referral.Screening `json:"screenings"`
	}
	eventList struct {
		Events []referral.Event `json:"events"`
	}
	// feedPage is a page of the event feed: Last is the position to pass as
	// after for the next page (the request's after when the page is empty).
	feedPage struct {
		Events []referral.Event `json:"events"`
		Last   int64            `json:"last"`
	}
	statusBody struct {
		Status string `json:"status"`
	}
	networkBody struct {
		Name string `json:"name"`
	}
)

// commandNames maps each command route's last path segment to its trigger.
// The sweep's own triggers (expire, escalate) are not exposed: only the
// system actor runs them, and no HTTP caller is one.
var commandNames = []struct {
	name    string
	trigger lifecycle.Trigger
	summary string
}{
	{"send", lifecycle.TriggerSend, "send a draft (needs the person's consent)"},
	{"acknowledge", lifecycle.TriggerAcknowledge, "acknowledge receipt (receiver)"},
	{"accept", lifecycle.TriggerAccept, "accept the referral (receiver)"},
	{"decline", lifecycle.TriggerDecline, "decline with a reason (receiver)"},
	{"start", lifecycle.TriggerStart, "start the service (receiver)"},
	{"hold", lifecycle.TriggerHold, "put the referral on hold (receiver)"},
	{"resume", lifecycle.TriggerResume, "resume a held referral (receiver)"},
	{"complete", lifecycle.TriggerComplete, "complete with an outcome: the loop closes (receiver)"},
	{"fail", lifecycle.TriggerFail, "record that the service failed, with a reason (receiver)"},
	{"cancel", lifecycle.TriggerCancel, "cancel with a reason (sender or the person's delegate)"},
	{"enter-in-error", lifecycle.TriggerEnterInError, "mark the referral entered in error"},
	{"note", lifecycle.TriggerNote, "add a note for the other party"},
}

// table is the route table with its handlers.
func (h *Handler) table() []*Route {
	referralResp := func(status int, what string) Response {
		return Response{Status: status, Description: what, Body: referral.Referral{}, Headers: []string{"ETag"}}
	}
	rs := []*Route{
		{Method: "GET", Pattern: "/healthz", OperationID: "health", Summary: "report that the process is up", Tag: "operations", Public: true,
			Responses: []Response{{Status: 200, Description: "the process is up", Body: statusBody{}}}, handler: h.healthz},
		{Method: "GET", Pattern: "/readyz", OperationID: "ready", Summary: "report whether the store is reachable and migrated", Tag: "operations", Public: true,
			Responses: []Response{{Status: 200, Description: "ready to serve", Body: statusBody{}}}, handler: h.readyz},
		{Method: "GET", Pattern: "/openapi.json", OperationID: "openapi", Summary: "this OpenAPI document", Tag: "operations", Public: true,
			Responses: []Response{{Status: 200, Description: "the OpenAPI 3.1 document", Body: json.RawMessage(nil)}}, handler: h.openapi},

		{Method: "GET", Pattern: "/network", OperationID: "getNetwork", Summary: "read the caller's network", Tag: "networks",
			Responses: []Response{{Status: 200, Description: "the network", Body: referral.Network{}}}, handler: h.getNetwork},
		{Method: "PUT", Pattern: "/network", OperationID: "putNetwork", Summary: "create or rename the caller's network", Tag: "networks", Roles: adminOnly,
			Body: networkBody{}, Responses: []Response{{Status: 200, Description: "the network as stored", Body: referral.Network{}}}, handler: h.putNetwork},

		{Method: "GET", Pattern: "/organizations", OperationID: "listOrganizations", Summary: "list the network's organizations", Tag: "organizations",
			Query: pageParams, Responses: []Response{{Status: 200, Description: "a page of organizations", Body: organizationPage{}}}, handler: h.listOrganizations},
		{Method: "GET", Pattern: "/organizations/{id}", OperationID: "getOrganization", Summary: "read an organization", Tag: "organizations",
			Responses: []Response{{Status: 200, Description: "the organization", Body: referral.Organization{}}}, handler: h.getOrganization},
		{Method: "PUT", Pattern: "/organizations/{id}", OperationID: "putOrganization", Summary: "create or replace an organization", Tag: "organizations", Roles: adminOnly,
			Body: referral.Organization{}, Responses: []Response{{Status: 200, Description: "the organization as stored", Body: referral.Organization{}}}, handler: h.putOrganization},

		{Method: "GET", Pattern: "/services", OperationID: "listServices", Summary: "list the network's services", Tag: "directory",
			Query: pageParams, Responses: []Response{{Status: 200, Description: "a page of services", Body: servicePage{}}}, handler: h.listServices},
		{Method: "GET", Pattern: "/services/{id}", OperationID: "getService", Summary: "read a service", Tag: "directory",
			Responses: []Response{{Status: 200, Description: "the service", Body: referral.Service{}}}, handler: h.getService},
		{Method: "PUT", Pattern: "/services/{id}", OperationID: "putService", Summary: "create or replace a service (admin, or its organization's staff)", Tag: "directory", Roles: staffAdmin,
			Body: referral.Service{}, Responses: []Response{{Status: 200, Description: "the service as stored", Body: referral.Service{}}}, handler: h.putService},
		{Method: "DELETE", Pattern: "/services/{id}", OperationID: "deleteService", Summary: "delete a service (admin, or its organization's staff)", Tag: "directory", Roles: staffAdmin,
			Responses: []Response{{Status: 204, Description: "deleted"}}, handler: h.deleteService},

		{Method: "PUT", Pattern: "/persons/{id}", OperationID: "putPerson", Summary: "create or replace a person", Tag: "persons", Roles: staffAdmin,
			Body: referral.Person{}, Responses: []Response{{Status: 200, Description: "the person as stored", Body: referral.Person{}}}, handler: h.putPerson},
		{Method: "GET", Pattern: "/persons/{id}", OperationID: "getPerson", Summary: "read a person", Tag: "persons", Roles: personSide,
			Responses: []Response{{Status: 200, Description: "the person", Body: referral.Person{}}}, handler: h.getPerson},
		{Method: "POST", Pattern: "/persons/{id}/erase", OperationID: "erasePerson", Summary: "erase a person's personal data", Tag: "persons", Roles: adminOnly,
			Responses: []Response{{Status: 200, Description: "what the erasure changed", Body: storage.Erasure{}}}, handler: h.erasePerson},
		{Method: "GET", Pattern: "/persons/{id}/consents", OperationID: "listConsents", Summary: "list a person's consents", Tag: "consents", Roles: personSide,
			Responses: []Response{{Status: 200, Description: "the consents, in id order", Body: consentList{}}}, handler: h.listConsents},
		{Method: "GET", Pattern: "/persons/{id}/screenings", OperationID: "listScreenings", Summary: "list a person's screenings", Tag: "screenings", Roles: personSide,
			Responses: []Response{{Status: 200, Description: "the screenings, in id order", Body: screeningList{}}}, handler: h.listScreenings},

		{Method: "PUT", Pattern: "/consents/{id}", OperationID: "putConsent", Summary: "record or revoke a consent", Tag: "consents", Roles: personSide,
			Body: referral.Consent{}, Responses: []Response{{Status: 200, Description: "the consent as stored", Body: referral.Consent{}}}, handler: h.putConsent},
		{Method: "GET", Pattern: "/consents/{id}", OperationID: "getConsent", Summary: "read a consent", Tag: "consents", Roles: personSide,
			Responses: []Response{{Status: 200, Description: "the consent", Body: referral.Consent{}}}, handler: h.getConsent},

		{Method: "POST", Pattern: "/screenings", OperationID: "screen", Summary: "score and store a screening", Tag: "screenings", Roles: staffOnly,
			Body: screenRequest{}, Responses: []Response{{Status: 201, Description: "the scored screening", Body: screenResponse{}, Headers: []string{"Location"}}}, handler: h.screen},
		{Method: "GET", Pattern: "/screenings/{id}", OperationID: "getScreening", Summary: "read a stored screening", Tag: "screenings", Roles: personSide,
			Responses: []Response{{Status: 200, Description: "the screening", Body: referral.Screening{}}}, handler: h.getScreening},

		{Method: "POST", Pattern: "/matches", OperationID: "match", Summary: "match needs to services", Tag: "matching", Roles: staffAdmin,
			Body: matchRequest{}, Responses: []Response{{Status: 200, Description: "the matches, ranked", Body: matching.Result{}}}, handler: h.match},

		{Method: "POST", Pattern: "/referrals", OperationID: "createReferral", Summary: "create (and optionally send) a referral", Tag: "referrals", Roles: staffOnly,
			Body: createRequest{}, Headers: []Param{idempotencyKey},
			Responses: []Response{
				{Status: 201, Description: "the new referral", Body: referral.Referral{}, Headers: []string{"ETag", "Location"}},
				{Status: 200, Description: "the referral an earlier request with the same Idempotency-Key created", Body: referral.Referral{}, Headers: []string{"ETag", "Location"}},
			}, handler: h.createReferral},
		{Method: "GET", Pattern: "/referrals", OperationID: "listReferrals", Summary: "list the referrals the caller may see", Tag: "referrals",
			Query: append([]Param{
				{Name: "status", Kind: "string", Description: "comma-separated statuses to keep"},
				{Name: "sender", Kind: "uuid", Description: "the sending organization"},
				{Name: "receiver", Kind: "uuid", Description: "the receiving organization"},
				{Name: "person", Kind: "uuid", Description: "the person"},
				{Name: "created_from", Kind: "date-time", Description: "created at or after"},
				{Name: "created_to", Kind: "date-time", Description: "created before"},
			}, pageParams...),
			Responses: []Response{{Status: 200, Description: "a page of referrals", Body: referralPage{}}}, handler: h.listReferrals},
		{Method: "GET", Pattern: "/referrals/{id}", OperationID: "getReferral", Summary: "read a referral", Tag: "referrals",
			Responses: []Response{referralResp(200, "the referral; its ETag is its version")}, handler: h.getReferral},
		{Method: "GET", Pattern: "/referrals/{id}/history", OperationID: "referralHistory", Summary: "read a referral's events", Tag: "referrals",
			Responses: []Response{{Status: 200, Description: "the events, oldest first", Body: eventList{}}}, handler: h.history},
		{Method: "GET", Pattern: "/referrals/{id}/fhir", OperationID: "exportReferral", Summary: "export a referral as a FHIR bundle", Tag: "fhir",
			Responses: []Response{{Status: 200, Description: "the FHIR R4 Bundle (SDOH Clinical Care IG)", Body: fhir.Bundle{}, Media: mediaFHIR}}, handler: h.exportBundle},

		{Method: "GET", Pattern: "/events", OperationID: "feed", Summary: "read a page of the event feed", Tag: "events",
			Query: []Param{
				{Name: "after", Kind: "integer", Description: "the last feed position already read; 0 or absent from the start"},
				{Name: "limit", Kind: "integer", Description: "page size, 1 to 1000; 0 or absent means 100"},
			},
			Responses: []Response{{Status: 200, Description: "the events after the position", Body: feedPage{}}}, handler: h.feed},
		{Method: "GET", Pattern: "/events/stream", OperationID: "followFeed", Summary: "follow the event feed as server-sent events", Tag: "events",
			Query:     []Param{{Name: "after", Kind: "integer", Description: "start after this feed position (Last-Event-ID wins)"}},
			Headers:   []Param{{Name: "Last-Event-ID", Kind: "string", Description: "resume after this feed position"}},
			Responses: []Response{{Status: 200, Description: "an endless stream: one frame per event, id its feed position", Media: mediaSSE}}, handler: h.stream},

		{Method: "GET", Pattern: "/reports/loop-closure", OperationID: "loopClosure", Summary: "report loop closure over a period", Tag: "reports", Roles: staffAdmin,
			Query: []Param{
				{Name: "from", Kind: "date-time", Description: "start of the period (referrals created at or after)", Required: true},
				{Name: "to", Kind: "date-time", Description: "end of the period (created before)", Required: true},
			},
			Responses: []Response{{Status: 200, Description: "the loop-closure report", Body: lifecycle.Report{}}}, handler: h.loopClosure},

		{Method: "GET", Pattern: "/fhir/Task/{id}", OperationID: "getTask", Summary: "read a referral as a FHIR Task", Tag: "fhir",
			Responses: []Response{{Status: 200, Description: "the SDOHCC TaskForReferralManagement", Body: fhir.Task{}, Media: mediaFHIR, Headers: []string{"ETag"}}}, handler: h.getTask},
		{Method: "PUT", Pattern: "/fhir/Task/{id}", OperationID: "applyTask", Summary: "apply a partner's Task update through the lifecycle", Tag: "fhir",
			Roles: []referral.Role{referral.RoleStaff, referral.RoleDelegate}, Body: fhir.Task{},
			Responses: []Response{{Status: 200, Description: "the Task after the update", Body: fhir.Task{}, Media: mediaFHIR, Headers: []string{"ETag"}}}, handler: h.applyTask},
	}
	for _, c := range commandNames {
		trigger := c.trigger
		rs = append(rs, &Route{
			Method: "POST", Pattern: "/referrals/{id}/" + c.name, OperationID: commandOperation(c.name), Summary: c.summary, Tag: "referrals",
			Body: commandRequest{}, BodyOptional: true, Headers: []Param{ifMatchParam, idempotencyKey},
			Responses: []Response{referralResp(http.StatusOK, "the referral after the command")},
			handler: func(w http.ResponseWriter, r *http.Request, c *call) error {
				return h.command(w, r, c, trigger)
			},
		})
	}
	return rs
}

// commandOperation is a command's operation id: "accept" → "acceptReferral".
func commandOperation(name string) string {
	out := []byte{}
	upper := false
	for i := 0; i < len(name); i++ {
		switch {
		case name[i] == '-':
			upper = true
		case upper:
			out = append(out, name[i]-'a'+'A')
			upper = false
		default:
			out = append(out, name[i])
		}
	}
	return string(out) + "Referral"
}
