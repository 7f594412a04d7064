package adversarial

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// accessMatrix is who may see and do what, from the documented rules
// (storage.Visibility, the lifecycle package doc, lifecycle's state table):
// one row per actor and operation, one column per referral state.
//
// Outcomes: ok (for list and feed: the referral or its events are there),
// NF (referral.ErrNotFound; for list and feed: absent), FB
// (referral.ErrForbidden: seen but not theirs to do), IT
// (referral.ErrInvalidTransition: not in this state).
//
// States: draft; sent (requested); accepted; completed (got-help);
// withdrawn (a draft cancelled before it was sent); voided (entered in error
// after it was sent); voided-draft (entered in error before it was sent).
//
// Actors (see world): the sender's and receiver's staff; third, an
// organization with no part and no consent; viewer, holding the person's
// active view consent; lapsed, pending and revoked, holding a view consent
// that has ended, has not begun, and was withdrawn; referrer, holding a referral-scope consent only (a referral
// may be sent to it; it sees no one else's); the person's delegate and
// another person's; the network's admin; the system. Every one of them acting
// from another network is in otherNetwork below.
//
// Operations: the queries (get, list, history, feed), FHIR export, every
// lifecycle command (the business-status steps and the two-step
// cancellation included: confirm-cancel and refuse-cancel need a pending
// request, which none of these states has), a FHIR Task update in the referral's current status
// (apply-same) and one asking for accepted (apply-accepted), and a new
// referral that replaces this one (redirect).
const accessMatrix = `
actor          operation       draft  sent  accepted  completed  withdrawn  voided  voided-draft

sender         get             ok     ok    ok        ok         ok         ok      ok
sender         list            ok     ok    ok        ok         ok         ok      ok
sender         history         ok     ok    ok        ok         ok         ok      ok
sender         feed            ok     ok    ok        ok         ok         ok      ok
sender         export          ok     ok    ok        ok         ok         ok      ok
sender         send            ok     IT    IT        IT         IT         IT      IT
sender         acknowledge     IT     FB    IT        IT         IT         IT      IT
sender         accept          IT     FB    IT        IT         IT         IT      IT
sender         decline         IT     FB    IT        IT         IT         IT      IT
sender         start           IT     IT    FB        IT         IT         IT      IT
sender         hold            IT     IT    FB        IT         IT         IT      IT
sender         resume          IT     IT    IT        IT         IT         IT      IT
sender         complete        IT     IT    FB        IT         IT         IT      IT
sender         fail            IT     IT    FB        IT         IT         IT      IT
sender         cancel          ok     ok    IT        IT         IT         IT      IT
sender         expire          IT     FB    IT        IT         IT         IT      IT
sender         escalate        IT     FB    IT        IT         IT         IT      IT
sender         enter-in-error  ok     ok    ok        ok         ok         IT      IT
sender         note            ok     ok    ok        ok         ok         IT      IT
sender         apply-same      ok     ok    ok        ok         ok         ok      ok
sender         apply-accepted  IT     FB    ok        IT         IT         IT      IT
sender         redirect        ok     ok    ok        ok         ok         ok      ok
sender         waitlist        IT     FB    FB        IT         IT         IT      IT
sender         schedule        IT     IT    FB        IT         IT         IT      IT
sender         no-show         IT     IT    IT        IT         IT         IT      IT
sender         request-cancel  IT     IT    ok        IT         IT         IT      IT
sender         confirm-cancel  IT     IT    IT        IT         IT         IT      IT
sender         refuse-cancel   IT     IT    IT        IT         IT         IT      IT

receiver       get             NF     ok    ok        ok         NF         ok      NF
receiver       list            NF     ok    ok        ok         NF         ok      NF
receiver       history         NF     ok    ok        ok         NF         ok      NF
receiver       feed            NF     ok    ok        ok         NF         ok      NF
receiver       export          NF     ok    ok        ok         NF         ok      NF
receiver       send            NF     IT    IT        IT         NF         IT      NF
receiver       acknowledge     NF     ok    IT        IT         NF         IT      NF
receiver       accept          NF     ok    IT        IT         NF         IT      NF
receiver       decline         NF     ok    IT        IT         NF         IT      NF
receiver       start           NF     IT    ok        IT         NF         IT      NF
receiver       hold            NF     IT    ok        IT         NF         IT      NF
receiver       resume          NF     IT    IT        IT         NF         IT      NF
receiver       complete        NF     IT    ok        IT         NF         IT      NF
receiver       fail            NF     IT    ok        IT         NF         IT      NF
receiver       cancel          NF     FB    IT        IT         NF         IT      NF
receiver       expire          NF     FB    IT        IT         NF         IT      NF
receiver       escalate        NF     FB    IT        IT         NF         IT      NF
receiver       enter-in-error  NF     ok    ok        ok         NF         IT      NF
receiver       note            NF     ok    ok        ok         NF         IT      NF
receiver       apply-same      NF     ok    ok        ok         NF         ok      NF
receiver       apply-accepted  NF     ok    ok        IT         NF         IT      NF
receiver       redirect        NF     ok    ok        ok         NF         ok      NF
receiver       waitlist        NF     ok    ok        IT         NF         IT      NF
receiver       schedule        NF     IT    ok        IT         NF         IT      NF
receiver       no-show         NF     IT    IT        IT         NF         IT      NF
receiver       request-cancel  NF     IT    FB        IT         NF         IT      NF
receiver       confirm-cancel  NF     IT    IT        IT         NF         IT      NF
receiver       refuse-cancel   NF     IT    IT        IT         NF         IT      NF

viewer         get             NF     ok    ok        ok         NF         ok      NF
viewer         list            NF     ok    ok        ok         NF         ok      NF
viewer         history         NF     ok    ok        ok         NF         ok      NF
viewer         feed            NF     ok    ok        ok         NF         ok      NF
viewer         export          NF     ok    ok        ok         NF         ok      NF
viewer         send            NF     IT    IT        IT         NF         IT      NF
viewer         acknowledge     NF     FB    IT        IT         NF         IT      NF
viewer         accept          NF     FB    IT        IT         NF         IT      NF
viewer         decline         NF     FB    IT        IT         NF         IT      NF
viewer         start           NF     IT    FB        IT         NF         IT      NF
viewer         hold            NF     IT    FB        IT         NF         IT      NF
viewer         resume          NF     IT    IT        IT         NF         IT      NF
viewer         complete        NF     IT    FB        IT         NF         IT      NF
viewer         fail            NF     IT    FB        IT         NF         IT      NF
viewer         cancel          NF     FB    IT        IT         NF         IT      NF
viewer         expire          NF     FB    IT        IT         NF         IT      NF
viewer         escalate        NF     FB    IT        IT         NF         IT      NF
viewer         enter-in-error  NF     FB    FB        FB         NF         IT      NF
viewer         note            NF     FB    FB        FB         NF         IT      NF
viewer         apply-same      NF     ok    ok        ok         NF         ok      NF
viewer         apply-accepted  NF     FB    ok        IT         NF         IT      NF
viewer         redirect        NF     ok    ok        ok         NF         ok      NF
viewer         waitlist        NF     FB    FB        IT         NF         IT      NF
viewer         schedule        NF     IT    FB        IT         NF         IT      NF
viewer         no-show         NF     IT    IT        IT         NF         IT      NF
viewer         request-cancel  NF     IT    FB        IT         NF         IT      NF
viewer         confirm-cancel  NF     IT    IT        IT         NF         IT      NF
viewer         refuse-cancel   NF     IT    IT        IT         NF         IT      NF

delegate       get             NF     ok    ok        ok         NF         ok      NF
delegate       list            NF     ok    ok        ok         NF         ok      NF
delegate       history         NF     ok    ok        ok         NF         ok      NF
delegate       feed            NF     ok    ok        ok         NF         ok      NF
delegate       export          NF     ok    ok        ok         NF         ok      NF
delegate       send            NF     IT    IT        IT         NF         IT      NF
delegate       acknowledge     NF     FB    IT        IT         NF         IT      NF
delegate       accept          NF     FB    IT        IT         NF         IT      NF
delegate       decline         NF     FB    IT        IT         NF         IT      NF
delegate       start           NF     IT    FB        IT         NF         IT      NF
delegate       hold            NF     IT    FB        IT         NF         IT      NF
delegate       resume          NF     IT    IT        IT         NF         IT      NF
delegate       complete        NF     IT    FB        IT         NF         IT      NF
delegate       fail            NF     IT    FB        IT         NF         IT      NF
delegate       cancel          NF     ok    IT        IT         NF         IT      NF
delegate       expire          NF     FB    IT        IT         NF         IT      NF
delegate       escalate        NF     FB    IT        IT         NF         IT      NF
delegate       enter-in-error  NF     FB    FB        FB         NF         IT      NF
delegate       note            NF     ok    ok        ok         NF         IT      NF
delegate       apply-same      NF     ok    ok        ok         NF         ok      NF
delegate       apply-accepted  NF     FB    ok        IT         NF         IT      NF
delegate       redirect        FB     FB    FB        FB         FB         FB      FB
delegate       waitlist        NF     FB    FB        IT         NF         IT      NF
delegate       schedule        NF     IT    FB        IT         NF         IT      NF
delegate       no-show         NF     IT    IT        IT         NF         IT      NF
delegate       request-cancel  NF     IT    ok        IT         NF         IT      NF
delegate       confirm-cancel  NF     IT    IT        IT         NF         IT      NF
delegate       refuse-cancel   NF     IT    IT        IT         NF         IT      NF

admin          get             ok     ok    ok        ok         ok         ok      ok
admin          list            ok     ok    ok        ok         ok         ok      ok
admin          history         ok     ok    ok        ok         ok         ok      ok
admin          feed            ok     ok    ok        ok         ok         ok      ok
admin          export          ok     ok    ok        ok         ok         ok      ok
admin          send            FB     IT    IT        IT         IT         IT      IT
admin          acknowledge     IT     FB    IT        IT         IT         IT      IT
admin          accept          IT     FB    IT        IT         IT         IT      IT
admin          decline         IT     FB    IT        IT         IT         IT      IT
admin          start           IT     IT    FB        IT         IT         IT      IT
admin          hold            IT     IT    FB        IT         IT         IT      IT
admin          resume          IT     IT    IT        IT         IT         IT      IT
admin          complete        IT     IT    FB        IT         IT         IT      IT
admin          fail            IT     IT    FB        IT         IT         IT      IT
admin          cancel          FB     FB    IT        IT         IT         IT      IT
admin          expire          IT     FB    IT        IT         IT         IT      IT
admin          escalate        IT     FB    IT        IT         IT         IT      IT
admin          enter-in-error  FB     FB    FB        FB         FB         IT      IT
admin          note            FB     FB    FB        FB         FB         IT      IT
admin          apply-same      ok     ok    ok        ok         ok         ok      ok
admin          apply-accepted  IT     FB    ok        IT         IT         IT      IT
admin          redirect        FB     FB    FB        FB         FB         FB      FB
admin          waitlist        IT     FB    FB        IT         IT         IT      IT
admin          schedule        IT     IT    FB        IT         IT         IT      IT
admin          no-show         IT     IT    IT        IT         IT         IT      IT
admin          request-cancel  IT     IT    FB        IT         IT         IT      IT
admin          confirm-cancel  IT     IT    IT        IT         IT         IT      IT
admin          refuse-cancel   IT     IT    IT        IT         IT         IT      IT

system         get             ok     ok    ok        ok         ok         ok      ok
system         list            ok     ok    ok        ok         ok         ok      ok
system         history         ok     ok    ok        ok         ok         ok      ok
system         feed            ok     ok    ok        ok         ok         ok      ok
system         export          ok     ok    ok        ok         ok         ok      ok
system         send            FB     IT    IT        IT         IT         IT      IT
system         acknowledge     IT     FB    IT        IT         IT         IT      IT
system         accept          IT     FB    IT        IT         IT         IT      IT
system         decline         IT     FB    IT        IT         IT         IT      IT
system         start           IT     IT    FB        IT         IT         IT      IT
system         hold            IT     IT    FB        IT         IT         IT      IT
system         resume          IT     IT    IT        IT         IT         IT      IT
system         complete        IT     IT    FB        IT         IT         IT      IT
system         fail            IT     IT    FB        IT         IT         IT      IT
system         cancel          FB     FB    IT        IT         IT         IT      IT
system         expire          IT     ok    IT        IT         IT         IT      IT
system         escalate        IT     ok    IT        IT         IT         IT      IT
system         enter-in-error  ok     ok    ok        ok         ok         IT      IT
system         note            FB     FB    FB        FB         FB         IT      IT
system         apply-same      ok     ok    ok        ok         ok         ok      ok
system         apply-accepted  IT     FB    ok        IT         IT         IT      IT
system         redirect        FB     FB    FB        FB         FB         FB      FB
system         waitlist        IT     FB    FB        IT         IT         IT      IT
system         schedule        IT     IT    FB        IT         IT         IT      IT
system         no-show         IT     IT    IT        IT         IT         IT      IT
system         request-cancel  IT     IT    FB        IT         IT         IT      IT
system         confirm-cancel  IT     IT    IT        IT         IT         IT      IT
system         refuse-cancel   IT     IT    IT        IT         IT         IT      IT
`

// unseen are the actors who see none of the person's referrals in any state:
// every operation is NF, except redirect, which a non-staff actor is refused
// (FB) before anything is looked up, so it tells nothing either.
var unseen = map[string]string{
	"third": "NF", "lapsed": "NF", "pending": "NF", "revoked": "NF", "referrer": "NF", "other-delegate": "FB",
}

// otherNetwork: every actor above, acting from another network, sees nothing
// of this one (nothing crosses networks); redirect is FB for the non-staff
// among them, as for unseen.
var otherNetwork = map[string]string{
	"sender": "NF", "receiver": "NF", "viewer": "NF", "delegate": "FB", "admin": "FB", "system": "FB",
	"third": "NF", "lapsed": "NF", "pending": "NF", "revoked": "NF", "referrer": "NF", "other-delegate": "FB",
}

var (
	matrixStates = []string{"draft", "sent", "accepted", "completed", "withdrawn", "voided", "voided-draft"}
	operations   = []string{
		"get", "list", "history", "feed", "export", "send", "acknowledge", "accept", "decline", "start", "hold",
		"resume", "complete", "fail", "cancel", "expire", "escalate", "enter-in-error", "note", "apply-same",
		"apply-accepted", "redirect", "waitlist", "schedule", "no-show", "request-cancel", "confirm-cancel",
		"refuse-cancel",
	}
	// readOnly operations never write; the others do when they succeed.
	readOnly = map[string]bool{"get": true, "list": true, "history": true, "feed": true, "export": true, "apply-same": true, "redirect": true}
)

// expectations parses accessMatrix and adds the rows of unseen and
// otherNetwork: actor (prefixed "elsewhere/" for another network) →
// operation → state → outcome.
func expectations(t *testing.T) map[string]map[string]map[string]string {
	out := map[string]map[string]map[string]string{}
	set := func(actor, op, state, want string) {
		if out[actor] == nil {
			out[actor] = map[string]map[string]string{}
		}
		if out[actor][op] == nil {
			out[actor][op] = map[string]string{}
		}
		out[actor][op][state] = want
	}
	lines := strings.Split(strings.TrimSpace(accessMatrix), "\n")
	require.Equal(t, append([]string{"actor", "operation"}, matrixStates...), strings.Fields(lines[0]))
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		require.Len(t, f, 2+len(matrixStates), line)
		require.Contains(t, operations, f[1], line)
		for i, s := range matrixStates {
			require.Contains(t, []string{"ok", "NF", "FB", "IT"}, f[2+i], line)
			set(f[0], f[1], s, f[2+i])
		}
	}
	rule := func(prefix string, actors map[string]string) {
		for actor, redirect := range actors {
			for _, op := range operations {
				for _, s := range matrixStates {
					want := "NF"
					if op == "redirect" {
						want = redirect
					}
					set(prefix+actor, op, s, want)
				}
			}
		}
	}
	rule("", unseen)
	rule("elsewhere/", otherNetwork)
	for actor, ops := range out {
		require.Len(t, ops, len(operations), "%s: every operation has a row", actor)
	}
	return out
}

// TestAccessMatrix holds every backend to the access matrix: each actor runs
// each operation on a referral in each state, and gets exactly the outcome the
// table states. A refused command writes nothing. A referral the actor may not
// see is refused with the very error a referral that does not exist gets, so
// not even the message tells one from the other.
func TestAccessMatrix(t *testing.T) {
	want := expectations(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			m := newMatrix(t, newWorld(t, b.open(t), worldOptions{}))
			for _, actor := range m.actorNames() {
				t.Run(strings.ReplaceAll(actor, "/", "-"), func(t *testing.T) {
					m.run(t, actor, want[actor])
				})
			}
		})
	}
}

// matrix runs the access matrix in one world.
type matrix struct {
	*world
	actors map[string]referral.Actor
	// shared holds one referral per state for the operations that must not
	// change it; a command expected to succeed gets a fresh one.
	shared map[string]referral.Referral
}

func newMatrix(t *testing.T, w *world) *matrix {
	m := &matrix{world: w, actors: map[string]referral.Actor{}, shared: map[string]referral.Referral{}}
	delegate := func(network, person referral.ID) referral.Actor {
		return referral.Actor{Network: network, Person: person, Role: referral.RoleDelegate, User: "guardian"}
	}
	for _, network := range []referral.ID{w.network, w.elsewhere} {
		prefix := ""
		if network == w.elsewhere {
			prefix = "elsewhere/"
		}
		staff := func(org referral.ID) referral.Actor {
			a := w.staff(org)
			a.Network = network
			return a
		}
		for name, a := range map[string]referral.Actor{
			"sender": staff(w.sender), "receiver": staff(w.receiver), "third": staff(w.third), "viewer": staff(w.viewer),
			"lapsed": staff(w.lapsed), "pending": staff(w.pending), "revoked": staff(w.revoked), "referrer": staff(w.referrer),
			"delegate": delegate(network, w.person), "other-delegate": delegate(network, w.other),
			"admin":  {Network: network, Organization: w.admins, Role: referral.RoleAdmin, User: "coordinator"},
			"system": {Network: network, Role: referral.RoleSystem, User: "host"},
		} {
			m.actors[prefix+name] = a
		}
	}
	for _, s := range matrixStates {
		m.shared[s] = m.referralIn(t, s)
	}
	return m
}

func (m *matrix) actorNames() []string {
	var names []string
	for name := range m.actors {
		names = append(names, name)
	}
	// Stable order: this network's actors first.
	slices.Sort(names)
	return names
}

// referralIn creates a referral from the sender to the receiver and moves it
// to state.
func (m *matrix) referralIn(t *testing.T, state string) referral.Referral {
	t.Helper()
	sender, receiver := m.staff(m.sender), m.staff(m.receiver)
	send := state != "draft" && state != "withdrawn" && state != "voided-draft"
	r, err := m.engine.Create(m.ctx, sender, m.request(send))
	require.NoError(t, err)
	step := func(next referral.Referral, err error) {
		t.Helper()
		require.NoError(t, err)
		r = next
	}
	switch state {
	case "accepted", "completed":
		step(m.engine.Accept(m.ctx, receiver, r.ID, ""))
		if state == "completed" {
			step(m.engine.Complete(m.ctx, receiver, r.ID, referral.Outcome{Code: "got-help"}))
		}
	case "withdrawn":
		step(m.engine.Cancel(m.ctx, sender, r.ID, "client-declined", ""))
	case "voided", "voided-draft":
		step(m.engine.EnterInError(m.ctx, sender, r.ID, "wrong person"))
	}
	return r
}

// run checks one actor's row of every operation.
func (m *matrix) run(t *testing.T, name string, want map[string]map[string]string) {
	actor := m.actors[name]
	listed, fed := m.listed(t, actor), m.fed(t, actor)
	for _, op := range operations {
		for _, state := range matrixStates {
			expect := want[op][state]
			r := m.shared[state]
			if expect == "ok" && !readOnly[op] {
				r = m.referralIn(t, state)
			}
			var got string
			switch op {
			case "list":
				got = presence(listed[r.ID])
			case "feed":
				got = presence(fed[r.ID])
			default:
				err := m.do(actor, op, r)
				got = outcome(err)
				if got == "NF" {
					m.sameAsMissing(t, name, op, actor, r, err)
				}
			}
			if got != expect {
				t.Errorf("%s %s on a %s referral: got %s, want %s", name, op, state, got, expect)
			}
			if expect != "ok" || readOnly[op] {
				m.unchanged(t, state)
			}
		}
	}
}

func presence(there bool) string {
	if there {
		return "ok"
	}
	return "NF"
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, referral.ErrNotFound):
		return "NF"
	case errors.Is(err, referral.ErrForbidden):
		return "FB"
	case errors.Is(err, referral.ErrInvalidTransition):
		return "IT"
	}
	return "error: " + err.Error()
}

// do runs one operation (other than list and feed) as actor on r.
func (m *matrix) do(actor referral.Actor, op string, r referral.Referral) error {
	ctx, e := m.ctx, m.engine
	var err error
	switch op {
	case "get":
		_, err = e.Get(ctx, actor, r.ID)
	case "history":
		_, err = e.History(ctx, actor, r.ID)
	case "export":
		_, err = m.fhir.Export(ctx, actor, r.ID)
	case "send":
		_, err = e.Send(ctx, actor, r.ID)
	case "acknowledge":
		_, err = e.Acknowledge(ctx, actor, r.ID)
	case "accept":
		_, err = e.Accept(ctx, actor, r.ID, "")
	case "decline":
		_, err = e.Decline(ctx, actor, r.ID, "no-capacity", "")
	case "start":
		_, err = e.Start(ctx, actor, r.ID)
	case "hold":
		_, err = e.Hold(ctx, actor, r.ID, "waitlisted", "")
	case "resume":
		_, err = e.Resume(ctx, actor, r.ID)
	case "complete":
		_, err = e.Complete(ctx, actor, r.ID, referral.Outcome{Code: "got-help"})
	case "fail":
		_, err = e.Fail(ctx, actor, r.ID, "no-show", "")
	case "cancel":
		_, err = e.Cancel(ctx, actor, r.ID, "no-longer-needed", "")
	case "expire":
		_, err = e.Expire(ctx, actor, r.ID)
	case "escalate":
		_, err = e.Do(ctx, actor, r.ID, lifecycle.TriggerEscalate, lifecycle.Command{})
	case "enter-in-error":
		_, err = e.EnterInError(ctx, actor, r.ID, "")
	case "note":
		_, err = e.AddNote(ctx, actor, r.ID, "Called today.")
	case "apply-same", "apply-accepted":
		status := r.Status
		if op == "apply-accepted" {
			status = referral.StatusAccepted
		}
		_, err = m.fhir.Apply(ctx, actor, fmt.Appendf(nil,
			`{"resourceType":"Task","status":%q,"intent":"order","focus":{"reference":"ServiceRequest/%s"}}`, status, r.ID))
	case "waitlist":
		_, err = e.Waitlist(ctx, actor, r.ID, "")
	case "schedule":
		_, err = e.Schedule(ctx, actor, r.ID, "")
	case "no-show":
		_, err = e.NoShow(ctx, actor, r.ID, "")
	case "request-cancel":
		_, err = e.RequestCancel(ctx, actor, r.ID, "no-longer-needed", "")
	case "confirm-cancel":
		_, err = e.ConfirmCancel(ctx, actor, r.ID, "")
	case "refuse-cancel":
		_, err = e.RefuseCancel(ctx, actor, r.ID, "")
	case "redirect":
		req := m.request(false)
		req.Replaces = r.ID
		_, err = e.Create(ctx, actor, req)
	default:
		panic("unknown operation " + op)
	}
	return err
}

// sameAsMissing checks that a referral the actor may not see is refused with
// the error a referral that does not exist gets: the same text but for the id.
func (m *matrix) sameAsMissing(t *testing.T, name, op string, actor referral.Actor, r referral.Referral, err error) {
	t.Helper()
	missing := r
	missing.ID = m.ids.MustNew()
	other := m.do(actor, op, missing)
	require.ErrorIs(t, other, referral.ErrNotFound, "%s %s on a referral that does not exist", name, op)
	if strings.ReplaceAll(err.Error(), r.ID.String(), "ID") != strings.ReplaceAll(other.Error(), missing.ID.String(), "ID") {
		t.Errorf("%s %s: a referral it may not see reads %q, one that does not exist %q: the difference tells it exists",
			name, op, err, other)
	}
}

// unchanged checks the shared referral in state is as it was, or replaces it
// (reporting the failure) so later cells start from the state they name.
func (m *matrix) unchanged(t *testing.T, state string) {
	t.Helper()
	r := m.shared[state]
	now, err := m.store.GetReferral(m.ctx, r.Network, r.ID)
	require.NoError(t, err)
	if now.Version != r.Version || now.Status != r.Status {
		t.Errorf("a %s referral was changed (version %d→%d, %s→%s) by an operation that must not change it",
			state, r.Version, now.Version, r.Status, now.Status)
		m.shared[state] = m.referralIn(t, state)
	}
}

// listed returns the referrals List shows actor, every page.
func (m *matrix) listed(t *testing.T, actor referral.Actor) map[referral.ID]bool {
	seen := map[referral.ID]bool{}
	q := lifecycle.ListQuery{Page: storage.Page{Limit: storage.MaxLimit}}
	for {
		page, next, err := m.engine.List(m.ctx, actor, q)
		require.NoError(t, err)
		for _, r := range page {
			require.Equal(t, actor.Network, r.Network, "a list crosses networks")
			seen[r.ID] = true
		}
		if next.IsZero() {
			return seen
		}
		q.Page.After = next
	}
}

// fed returns the referrals whose events Feed shows actor, every page.
func (m *matrix) fed(t *testing.T, actor referral.Actor) map[referral.ID]bool {
	seen := map[referral.ID]bool{}
	var after int64
	for {
		events, err := m.engine.Feed(m.ctx, actor, after, storage.MaxLimit)
		require.NoError(t, err)
		for _, ev := range events {
			require.Equal(t, actor.Network, ev.Network, "a feed crosses networks")
			seen[ev.Referral] = true
			after = ev.Position
		}
		if len(events) < storage.MaxLimit {
			return seen
		}
	}
}
