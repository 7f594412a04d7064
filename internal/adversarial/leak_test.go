package adversarial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

// sentinels are distinctive values put in every personal field: of the person
// referred (mine) and of another person in the network (theirs). Each is
// something no code, id or message of refkit's could contain by chance.
var (
	mine = map[string]string{
		"given name":       "Qxgiven-Sentinel",
		"family name":      "Qxfamily-Sentinel",
		"attribute key":    "qxkey_sentinel",
		"attribute value":  "Qxvalue-Sentinel",
		"zip":              "Qxzip-Sentinel",
		"county":           "Qxcounty-Sentinel",
		"insurance":        "Qxinsurance-Sentinel",
		"income":           "734519",
		"address answer":   "17 Qxaddress-Sentinel Road",
		"note":             "Qxnote-Sentinel",
		"outcome note":     "Qxoutcome-Sentinel",
		"task text":        "Qxtask-Sentinel",
		"consent document": "https://consents.example.org/qxdocument-sentinel",
		"idempotency key":  "qxidempotency-sentinel",
	}
	theirs = map[string]string{
		"their given name":       "Zygiven-Sentinel",
		"their attribute value":  "Zyvalue-Sentinel",
		"their county":           "Zycounty-Sentinel",
		"their income":           "918273",
		"their consent document": "https://consents.example.org/zydocument-sentinel",
	}
)

// sentinelPerson is the person referred, a sentinel in every personal field.
func sentinelPerson() referral.Person {
	income := 734519.0
	return referral.Person{
		GivenName: mine["given name"], FamilyName: mine["family name"],
		BirthDate: referral.Date{Year: 1961, Month: time.July, Day: 9}, HouseholdSize: 3, IncomeAnnual: &income,
		Languages: []string{"es"}, Location: &referral.Point{Latitude: 39.96, Longitude: -82.99},
		Zip: mine["zip"], County: mine["county"], State: "OH", Insurance: mine["insurance"],
		Veteran:    referral.Known(true),
		Attributes: map[string]string{mine["attribute key"]: mine["attribute value"], "tribe": mine["attribute value"]},
	}
}

// leaks collects what the flows produce. Everything said to someone who may
// not see the person's data (an error, a log record, an explanation, another
// person's records) must hold no sentinel; the outputs an authorized reader
// gets (the person's own record, the referral's history to its parties, the
// FHIR bundle to the receiver the person consented to) may, and together they
// must carry every sentinel, which proves the flows really put each one
// where a leak could happen.
type leaks struct {
	t     *testing.T
	legit strings.Builder
}

// clean asserts text holds no sentinel of anyone's.
func (l *leaks) clean(where string, text string) {
	l.t.Helper()
	for _, set := range []map[string]string{mine, theirs} {
		for field, s := range set {
			if strings.Contains(text, s) {
				l.t.Errorf("%s holds the %s: %.300s", where, field, text)
			}
		}
	}
	if strings.Contains(strings.ToLower(text), "sentinel") {
		l.t.Errorf("%s holds a sentinel: %.300s", where, text)
	}
}

// failed asserts err is an error (of the kind want) that holds no sentinel.
func (l *leaks) failed(where string, err error, want error) {
	l.t.Helper()
	if err == nil {
		l.t.Errorf("%s: succeeded, but the flow means it to fail", where)
		return
	}
	require.ErrorIs(l.t, err, want, where)
	l.clean("the error of "+where, err.Error())
}

// output is the JSON of v.
func output(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// allowed records an authorized output, and asserts it holds none of the
// other person's sentinels.
func (l *leaks) allowed(where string, v any) {
	l.t.Helper()
	text := output(l.t, v)
	for field, s := range theirs {
		if strings.Contains(text, s) {
			l.t.Errorf("%s, an output about the person referred, holds the other person's %s", where, field)
		}
	}
	l.legit.WriteString(text)
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoPersonalDataLeaks runs the whole loop with a sentinel in every
// personal field, on every backend, and fails on any sentinel in an error, a
// log record (every level, every attribute), an explanation, or an output for
// someone the person did not consent to.
func TestNoPersonalDataLeaks(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
			w := newWorld(t, b.open(t), worldOptions{person: sentinelPerson(), config: func(c *lifecycle.Options) {
				c.Logger = logger
				c.Deadlines = lifecycle.Deadlines{Acknowledge: 24 * time.Hour}
			}})
			l := &leaks{t: t}
			f := &flows{world: w, l: l}
			f.otherPerson(t)
			f.screen(t)
			f.people(t)
			f.match(t)
			f.consents(t)
			f.referrals(t)
			f.exchange(t)
			f.sweep(t)

			require.NotEmpty(t, logs.String(), "the engine logged its transitions")
			l.clean("the log", logs.String())
			for _, set := range []map[string]string{mine, theirs} {
				for field, s := range set {
					require.Contains(t, l.legit.String(), s, "no flow carried the %s to an authorized reader, so the test proves nothing about it", field)
				}
			}
		})
	}
}

// flows are the steps of the loop, each feeding sentinels where a leak could
// happen.
type flows struct {
	*world
	l *leaks
	// theirs is the other person's stored screening; mine the person's.
	theirScreening, myScreening referral.Screening
	// sent is the person's referral to the receiver, worked through the loop.
	sent referral.Referral
}

func (f *flows) otherPerson(t *testing.T) {
	income := 918273.0
	other := referral.Person{
		ID: f.other, Network: f.network, GivenName: theirs["their given name"], County: theirs["their county"],
		IncomeAnnual: &income, Attributes: map[string]string{"tribe": theirs["their attribute value"]},
	}
	require.NoError(t, f.store.PutPerson(f.ctx, other))
	got, err := f.store.GetPerson(f.ctx, f.network, f.other)
	require.NoError(t, err)
	f.l.legit.WriteString(output(t, got)) // their own record, to the host
	prapare, err := screening.Default().Lookup("prapare")
	require.NoError(t, err)
	resp, err := screening.ParseAnswers(prapare, []byte(`{"answers":{"63586-2":918273,"93031-3":["LA30125-1"]}}`))
	require.NoError(t, err)
	res := resp.Score()
	f.theirScreening = res.Screening(f.ids.MustNew(), f.network, f.other, f.clock.Now())
	require.NoError(t, f.store.PutScreening(f.ctx, f.theirScreening))
	require.NoError(t, f.store.PutConsent(f.ctx, referral.Consent{
		ID: f.ids.MustNew(), Network: f.network, Person: f.other, Grantee: f.receiver, Scope: referral.ScopeReferral,
		Document: theirs["their consent document"],
	}))
	consents, err := f.store.ListConsents(f.ctx, f.network, f.other)
	require.NoError(t, err)
	f.l.legit.WriteString(output(t, consents))
}

// screen scores the person's PRAPARE with a text answer and an income, stores
// the screening, and feeds answers that fail, each with a sentinel.
func (f *flows) screen(t *testing.T) {
	prapare, err := screening.Default().Lookup("prapare")
	require.NoError(t, err)
	answers := func(address, income string) []byte {
		return fmt.Appendf(nil, `{"answers":{"56799-0":%q,"63586-2":%s,"93031-3":["LA30125-1"],"63512-8":3}}`, address, income)
	}
	resp, err := screening.ParseAnswers(prapare, answers(mine["address answer"], mine["income"]))
	require.NoError(t, err)
	res := resp.Score()
	require.NotContains(t, output(t, res), mine["address answer"], "a text answer is never in a Result")
	f.l.legit.WriteString(output(t, res))
	// The Observations are the person's record: they carry the text.
	f.l.allowed("the screening's Observations", resp.Observations(&res, screening.ObservationOptions{Prefix: "obs", Subject: "Patient/" + f.person.String(), At: f.clock.Now()}))

	for name, doc := range map[string][]byte{
		"an address too long":           answers(strings.Repeat(mine["address answer"], 30), "1"),
		"an address with a bell":        answers(mine["address answer"]+"\a", "1"),
		"a negative income":             answers("x", "-"+mine["income"]),
		"an income with a fraction":     answers("x", mine["income"]+".5"),
		"an income past any range":      answers("x", mine["income"]+"e999"),
		"an answer that is no option":   []byte(`{"answers":{"93031-3":["` + mine["note"] + `"]}}`),
		"an address given as a number":  []byte(`{"answers":{"56799-0":` + mine["income"] + `}}`),
		"an income given as text":       []byte(`{"answers":{"63586-2":"` + mine["income"] + `"}}`),
		"text in an unpaired surrogate": []byte(`{"answers":{"56799-0":"` + mine["address answer"] + `\ud800"}}`),
		"a member that is not a field":  []byte(`{"answers":{},"` + mine["note"] + ` x":1}`),
		"a response after the response": append(answers("x", "1"), []byte(` "`+mine["note"]+`"`)...),
	} {
		_, err := screening.ParseAnswers(prapare, doc)
		f.l.failed("ParseAnswers with "+name, err, referral.ErrInvalid)
	}
	qr := func(item, value string) []byte {
		return fmt.Appendf(nil, `{"resourceType":"QuestionnaireResponse","item":[{"linkId":%q,"answer":[{%s}]}]}`, item, value)
	}
	for name, doc := range map[string][]byte{
		"an address too long":    qr("56799-0", `"valueString":"`+strings.Repeat(mine["address answer"], 30)+`"`),
		"an income as text":      qr("63586-2", `"valueString":"`+mine["income"]+`"`),
		"an income out of range": qr("63586-2", `"valueDecimal":-`+mine["income"]),
		"a code no option has":   qr("93031-3", `"valueCoding":{"code":"`+mine["note"]+`"}`),
	} {
		_, err := screening.ParseQuestionnaireResponse(prapare, doc)
		f.l.failed("ParseQuestionnaireResponse with "+name, err, referral.ErrInvalid)
	}
	r := prapare.NewResponse()
	f.l.failed("Answer with an address too long", r.Answer("56799-0", strings.Repeat(mine["address answer"], 30)), referral.ErrInvalid)
	f.l.failed("Answer with an income out of range", r.Answer("63586-2", "-"+mine["income"]), referral.ErrInvalid)

	f.myScreening = res.Screening(f.ids.MustNew(), f.network, f.person, f.clock.Now())
	require.NoError(t, f.store.PutScreening(f.ctx, f.myScreening))
	f.l.failed("storing a screening twice", f.store.PutScreening(f.ctx, f.myScreening), referral.ErrConflict)
	bad := f.myScreening.Clone()
	bad.ID, bad.Answers = f.ids.MustNew(), map[string][]string{"56799-0": {mine["address answer"] + "\x00"}}
	f.l.failed("storing a screening with a NUL in an answer", f.store.PutScreening(f.ctx, bad), referral.ErrInvalid)
	got, err := f.store.GetScreening(f.ctx, f.network, f.myScreening.ID)
	require.NoError(t, err)
	f.l.allowed("the stored screening", got)
}

// people stores the person in ways that fail, each failure holding sentinels.
func (f *flows) people(t *testing.T) {
	p, err := f.store.GetPerson(f.ctx, f.network, f.person)
	require.NoError(t, err)
	f.l.allowed("the person's record", p)
	for name, change := range map[string]func(p *referral.Person){
		"an attribute value with a NUL": func(p *referral.Person) { p.Attributes[mine["attribute key"]] = mine["attribute value"] + "\x00" },
		"an attribute value too long": func(p *referral.Person) {
			p.Attributes[mine["attribute key"]] = strings.Repeat(mine["attribute value"], 80)
		},
		"an attribute key with a control": func(p *referral.Person) { p.Attributes[mine["attribute key"]+"\x01"] = "x" },
		"a given name too long":           func(p *referral.Person) { p.GivenName = strings.Repeat(mine["given name"], 20) },
		"a family name in invalid UTF-8":  func(p *referral.Person) { p.FamilyName = mine["family name"] + "\xff" },
		"a zip with an escape":            func(p *referral.Person) { p.Zip = mine["zip"] + "\x1b" },
		"a county too long":               func(p *referral.Person) { p.County = strings.Repeat(mine["county"], 10) },
		"an insurance with a NUL":         func(p *referral.Person) { p.Insurance = "\x00" + mine["insurance"] },
		"a state that is a word":          func(p *referral.Person) { p.State = mine["county"] },
	} {
		bad := p.Clone()
		change(&bad)
		f.l.failed("storing a person with "+name, f.store.PutPerson(f.ctx, bad), referral.ErrInvalid)
		f.l.failed("validating a person with "+name, bad.Validate(), referral.ErrInvalid)
	}
	elsewhere := p.Clone()
	elsewhere.Network = f.elsewhere
	f.l.failed("storing the person in another network", f.store.PutPerson(f.ctx, elsewhere), referral.ErrConflict)
	_, err = f.store.GetPerson(f.ctx, f.elsewhere, f.person)
	f.l.failed("reading the person from another network", err, referral.ErrNotFound)
}

// match runs rules over every fact with explanations, and invalid requests.
func (f *flows) match(t *testing.T) {
	rules := []string{
		`int(attributes["tribe"]) > 0`, `int(zip) > 0`, `float(county) > 0`, `int(insurance) > 0`,
		`int(string(income_annual) + "x") > 0`, `zip == "nowhere" && county == "none"`,
		`any(keys(attributes), {int(attributes[#]) > 0})`, `attributes["missing"] == "x" || insurance == "none"`,
		`veteran && int(county) > 0`, `fpl_percent <= 138`,
	}
	var services []referral.Service
	for i, rule := range rules {
		id := f.ids.MustNew()
		services = append(services, referral.Service{
			ID: id, Network: f.network, Organization: f.receiver, Name: fmt.Sprintf("Service %d", i), Status: referral.ServiceActive,
			Domains: []referral.Domain{referral.FoodInsecurity}, Eligibility: rule,
			Locations: []referral.Location{{ID: f.ids.MustNew(), Latitude: 39.96, Longitude: -82.99}},
		})
	}
	ix, err := matching.New(f.ctx, services, matching.Options{Now: f.clock.Now})
	require.NoError(t, err)
	req := matching.Request{
		Person: sentinelPerson(), Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		RadiusM: 5000, Explain: true,
	}
	for _, unknown := range []matching.Unknown{matching.UnknownExclude, matching.UnknownInclude} {
		req.Unknown = unknown
		res, err := ix.Match(f.ctx, req)
		require.NoError(t, err)
		text := output(t, res)
		require.Contains(t, text, matching.ReasonRuleError, "the rules failed on the values, or the flow proves nothing")
		f.l.clean("a match explanation", text+fmt.Sprintf("%+v", res))
	}
	for name, change := range map[string]func(p *referral.Person){
		"a state that is a word":        func(p *referral.Person) { p.State = mine["county"] },
		"a zip too long":                func(p *referral.Person) { p.Zip = strings.Repeat(mine["zip"], 10) },
		"an attribute value too long":   func(p *referral.Person) { p.Attributes["tribe"] = strings.Repeat(mine["attribute value"], 80) },
		"an attribute key with a NUL":   func(p *referral.Person) { p.Attributes[mine["attribute key"]+"\x00"] = "x" },
		"a county with a control":       func(p *referral.Person) { p.County = mine["county"] + "\x07" },
		"a language tag that is a name": func(p *referral.Person) { p.Languages = []string{mine["given name"] + " " + mine["family name"]} },
	} {
		bad := req
		bad.Person = sentinelPerson()
		change(&bad.Person)
		_, err := ix.Match(f.ctx, bad)
		f.l.failed("matching with "+name, err, referral.ErrInvalid)
	}
}

// consents stores the person's consent document and ones that fail.
func (f *flows) consents(t *testing.T) {
	c := referral.Consent{
		ID: f.ids.MustNew(), Network: f.network, Person: f.person, Grantee: f.receiver, Scope: referral.ScopeReferral,
		Period: referral.Period{Start: epoch.AddDate(0, -1, 0)}, Document: mine["consent document"], Created: epoch,
	}
	require.NoError(t, f.store.PutConsent(f.ctx, c))
	for name, doc := range map[string]string{
		"a document that is no URL": "see " + mine["consent document"],
		"a document with a NUL":     mine["consent document"] + "\x00",
		"a document too long":       mine["consent document"] + "/" + strings.Repeat(mine["note"], 200),
	} {
		bad := c
		bad.ID, bad.Document = f.ids.MustNew(), doc
		f.l.failed("storing a consent with "+name, f.store.PutConsent(f.ctx, bad), referral.ErrInvalid)
	}
	bad := c
	bad.ID, bad.Person = f.ids.MustNew(), f.ids.MustNew()
	f.l.failed("storing a consent of a person who does not exist", f.store.PutConsent(f.ctx, bad), referral.ErrNotFound)
}

// referrals runs the loop with notes, and every way a command fails.
func (f *flows) referrals(t *testing.T) {
	sender, receiver, third := f.staff(f.sender), f.staff(f.receiver), f.staff(f.third)
	admin := referral.Actor{Network: f.network, Organization: f.admins, Role: referral.RoleAdmin, User: "coordinator"}
	req := f.request(true)
	req.Needs[0].Screening = f.myScreening.ID
	req.Note, req.IdempotencyKey = mine["note"], mine["idempotency key"]
	r, err := f.engine.Create(f.ctx, sender, req)
	require.NoError(t, err)
	f.sent = r

	again := req
	again.Receiver, again.Service, again.Location, again.Send = f.third, referral.NilID, referral.NilID, false
	_, err = f.engine.Create(f.ctx, sender, again)
	f.l.failed("reusing an idempotency key for another referral", err, referral.ErrConflict)
	theirs := f.request(true)
	theirs.Needs[0].Screening, theirs.Note = f.theirScreening.ID, mine["note"]
	_, err = f.engine.Create(f.ctx, sender, theirs)
	f.l.failed("citing another person's screening", err, referral.ErrInvalid)
	bad := f.request(false)
	bad.Note = mine["note"] + "\x00"
	_, err = f.engine.Create(f.ctx, sender, bad)
	f.l.failed("creating with a NUL in the note", err, referral.ErrInvalid)
	_, err = f.engine.Create(f.ctx, admin, req)
	f.l.failed("creating as an admin", err, referral.ErrForbidden)

	note := func(actor referral.Actor, text string) error {
		_, err := f.engine.AddNote(f.ctx, actor, r.ID, text)
		return err
	}
	_, err = f.engine.Acknowledge(f.ctx, receiver, r.ID)
	require.NoError(t, err)
	_, err = f.engine.Accept(f.ctx, receiver, r.ID, mine["note"])
	require.NoError(t, err)
	require.NoError(t, note(sender, mine["note"]+" from the clinic"))
	require.NoError(t, note(receiver, mine["note"]+" from the pantry"))
	_, err = f.engine.Hold(f.ctx, receiver, r.ID, "waitlisted", mine["note"])
	require.NoError(t, err)

	f.l.failed("a note with a NUL", note(sender, mine["note"]+"\x00"), referral.ErrInvalid)
	f.l.failed("a note too long", note(sender, strings.Repeat(mine["note"], 1000)), referral.ErrInvalid)
	f.l.failed("a note in invalid UTF-8", note(sender, mine["note"]+"\xc3"), referral.ErrInvalid)
	f.l.failed("a note from an organization not party to it", note(third, mine["note"]), referral.ErrNotFound)
	f.l.failed("a note from an admin", note(admin, mine["note"]), referral.ErrForbidden)
	_, err = f.engine.Do(f.ctx, receiver, r.ID, lifecycle.TriggerNote, lifecycle.Command{Note: mine["note"], IfVersion: 1})
	f.l.failed("a note on a stale version", err, referral.ErrConflict)
	_, err = f.engine.Decline(f.ctx, receiver, r.ID, "no-capacity", mine["note"])
	f.l.failed("declining a referral on hold", err, referral.ErrInvalidTransition)
	_, err = f.engine.Fail(f.ctx, receiver, r.ID, "not-a-reason", mine["note"])
	f.l.failed("failing with a reason not in the list", err, referral.ErrInvalid)
	_, err = f.engine.Complete(f.ctx, receiver, r.ID, referral.Outcome{Code: "got-help", Note: mine["outcome note"] + "\x00"})
	f.l.failed("completing with a NUL in the outcome note", err, referral.ErrInvalid)

	_, err = f.engine.Resume(f.ctx, receiver, r.ID)
	require.NoError(t, err)
	done, err := f.engine.Complete(f.ctx, receiver, r.ID, referral.Outcome{Code: "got-help", Note: mine["outcome note"]})
	require.NoError(t, err)
	f.l.allowed("the completed referral, to its sender", done)

	for _, a := range []referral.Actor{sender, receiver} {
		history, err := f.engine.History(f.ctx, a, r.ID)
		require.NoError(t, err)
		f.l.allowed("the history, to a party", history)
		feed, err := f.engine.Feed(f.ctx, a, 0, 0)
		require.NoError(t, err)
		f.l.allowed("the feed, to a party", feed)
	}
	_, err = f.engine.History(f.ctx, third, r.ID)
	f.l.failed("the history, to an organization not party to it", err, referral.ErrNotFound)
	feed, err := f.engine.Feed(f.ctx, third, 0, 0)
	require.NoError(t, err)
	f.l.clean("the feed of an organization not party to it", output(t, feed))
	listed, _, err := f.engine.List(f.ctx, third, lifecycle.ListQuery{})
	require.NoError(t, err)
	f.l.clean("the list of an organization not party to it", output(t, listed))
	report, err := f.engine.Metrics(f.ctx, admin, epoch.AddDate(-1, 0, 0), epoch.AddDate(1, 0, 0))
	require.NoError(t, err)
	f.l.clean("the network's metrics", output(t, report))
	_, _, err = f.engine.List(f.ctx, sender, lifecycle.ListQuery{Statuses: []referral.Status{referral.Status(mine["note"])}})
	f.l.failed("listing by a status that is a sentinel", err, referral.ErrInvalid)
	_, err = f.store.Feed(f.ctx, storage.FeedQuery{Network: f.network, Limit: storage.MaxLimit + 1})
	f.l.failed("a feed page past the limit", err, referral.ErrInvalid)
}

// exchange exports the referral to those who may and may not have it, and
// applies Task updates that fail, each carrying the sentinel text.
func (f *flows) exchange(t *testing.T) {
	receiver, third, viewer := f.staff(f.receiver), f.staff(f.third), f.staff(f.viewer)
	bundle, err := f.fhir.Export(f.ctx, receiver, f.sent.ID)
	require.NoError(t, err)
	text := output(t, bundle)
	f.l.allowed("the bundle, to the receiver the person consented to", bundle)
	// Minimum necessary: the Patient carries the name and birth date the
	// receiver needs to find the person; nothing else of the person's
	// record, no answer about another domain, and no consent given to
	// anyone but the receiver goes with it.
	for _, field := range []string{"attribute key", "attribute value", "zip", "county", "insurance", "income", "address answer"} {
		require.NotContains(t, text, mine[field], "the receiver's bundle carries the %s", field)
	}
	require.Contains(t, text, mine["given name"])
	viewed, err := f.fhir.Export(f.ctx, viewer, f.sent.ID)
	require.NoError(t, err)
	f.l.allowed("the bundle, to an organization with the person's view consent", viewed)
	_, err = f.fhir.Export(f.ctx, third, f.sent.ID)
	f.l.failed("the bundle, to an organization not party to it", err, referral.ErrNotFound)

	// A second referral, sent and not yet answered, for the Task updates.
	open, err := f.engine.Create(f.ctx, f.staff(f.sender), f.request(true))
	require.NoError(t, err)
	task := func(status, extra string) []byte {
		return fmt.Appendf(nil, `{"resourceType":"Task","status":%q,"intent":"order","focus":{"reference":"ServiceRequest/%s"}%s}`,
			status, open.ID, extra)
	}
	reason := func(code, text string) string {
		return fmt.Sprintf(`,"statusReason":{"coding":[{"code":%q}],"text":%q}`, code, text)
	}
	for _, tc := range []struct {
		name  string
		actor referral.Actor
		doc   []byte
		want  error
	}{
		{"a decline with a reason not in the list", receiver, task("rejected", reason("not-a-reason", mine["task text"])), referral.ErrInvalid},
		{"text with a NUL", receiver, task("rejected", reason("no-capacity", mine["task text"]+"\u0000")), referral.ErrInvalid},
		{"text too long", receiver, task("rejected", reason("no-capacity", strings.Repeat(mine["task text"], 1000))), referral.ErrInvalid},
		{"a completion before acceptance", receiver, task("completed", reason("", mine["task text"])), referral.ErrInvalidTransition},
		{"a stale version", receiver, task("accepted", `,"meta":{"versionId":"7"}`+reason("", mine["task text"])), referral.ErrConflict},
		{"an update from an organization not party to it", third, task("accepted", reason("", mine["task text"])), referral.ErrNotFound},
		{"an update from a view-consent holder", viewer, task("accepted", reason("", mine["task text"])), referral.ErrForbidden},
		{"a patient who is another person", receiver, task("accepted", `,"for":{"reference":"Patient/`+f.other.String()+`"}`), referral.ErrInvalid},
		{"a second Task status", receiver, []byte(`{"resourceType":"Task","status":"accepted","status":"` + mine["task text"] + `"}`), referral.ErrInvalid},
	} {
		_, err := f.fhir.Apply(f.ctx, tc.actor, tc.doc)
		f.l.failed("applying "+tc.name, err, tc.want)
	}
	applied, err := f.fhir.Apply(f.ctx, receiver, task("rejected", reason("no-capacity", mine["task text"])))
	require.NoError(t, err)
	history, err := f.engine.History(f.ctx, receiver, applied.ID)
	require.NoError(t, err)
	f.l.allowed("the history of the declined referral, to a party", history)
}

// sweep lets the deadline pass on a sent referral, so the sweep escalates it
// (and logs).
func (f *flows) sweep(t *testing.T) {
	r, err := f.engine.Create(f.ctx, f.staff(f.sender), f.request(true))
	require.NoError(t, err)
	res, err := f.engine.Sweep(context.Background(), r.AcknowledgeBy.Add(time.Minute))
	require.NoError(t, err)
	require.Positive(t, res.Expired+res.Escalated)
}
