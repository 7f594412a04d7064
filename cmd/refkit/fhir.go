package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(&command{
		name:    "fhir",
		summary: "export a referral as a FHIR R4 bundle, apply a FHIR Task update, or answer a capacity inquiry (SDOH Clinical Care IG)",
		args:    "export|apply|capacity [flags]",
		about: `The fhir command exchanges referrals with partner systems in FHIR R4, as
profiled by the SDOH Clinical Care IG (STU 2.3; enrollment and capacity from
its STU3 ballot) and US Core 7.0.0. export prints a referral as a Bundle
(SDOHCC ServiceRequest and Task, Consents, US Core Patient and Organizations,
the QuestionnaireResponse and screening Observations of its needs, and the
Procedure or enrollment Observation that closed its loop); apply reads a
partner's Task, or a Bundle holding one with the Procedure or enrollment
Observation it points to, applies it through the lifecycle, so every guard and
access check holds, and prints the referral as it stands afterwards; capacity
prints services' capacity statuses as the IG's HealthcareServices.

The records come from a refkit SQLite database (--db with --network, which apply
updates, recording the event) or from a JSON snapshot of one network (--state:
network, organizations, persons, consents, screenings, referrals; apply rewrites
it only with --save). The acting identity is given by --org, --role, --user and
--person: the command trusts its flags as a host trusts its own authentication.`,
		subcommands: []*command{fhirExport, fhirApply, fhirCapacity},
	})
}

var fhirExport = &command{
	name:    "export",
	summary: "print a referral as a FHIR R4 Bundle",
	args:    "(--db FILE --network ID | --state FILE) --referral ID --org ID [flags]",
	about: `Export prints the referral --referral as a FHIR R4 Bundle (SDOHCC
ServiceRequest and Task, Consents, US Core Patient and Organizations, the
QuestionnaireResponse and screening Observations of its needs, and once
completed the SDOHCC Procedure or enrollment Observation of its outcome), as the
organization --org sees it: a referral it may not see is not found. Every entry
has a fullUrl: --base-url/Type/id, or urn:uuid without a base URL.
--transaction prints a transaction bundle a FHIR server applies as is
(conditional creates and updates by identifier). The records come from the
SQLite database --db (network --network) or the snapshot --state; 'refkit demo
--dir DIR' keeps a database and prints this command for one of its referrals.`,
	examples: []string{
		"refkit fhir export --db /tmp/refkit-demo/refkit.db --network NETWORK-ID --org ORG-ID --referral REFERRAL-ID",
		"refkit fhir export --state network.json --org ORG-ID --referral REFERRAL-ID --base-url https://fhir.example.org/r4",
		"refkit fhir export --state network.json --org ORG-ID --referral REFERRAL-ID --transaction",
	},
	new: func() runner { return &fhirExportCmd{} },
}

var fhirApply = &command{
	name:    "apply",
	summary: "apply a partner's FHIR Task update through the lifecycle",
	args:    "(--db FILE --network ID | --state FILE [--save]) --org ID [flags] [--in TASK.json]",
	about: `Apply reads a FHIR R4 Task, or a Bundle holding one, from --in or standard input
and applies the change it asks for to the referral it focuses on, through the
lifecycle as the organization --org: the same guards, consent and access checks
as any host command. The Task's status and business status name the change:
accepted, rejected, in-progress, on-hold, completed (the outcome from refkit's
outcome output, or the IG's Procedure or enrollment Observation in the Bundle),
failed, cancelled; or, in the same status, the business statuses acknowledged,
waitlisted, scheduled, no-show, and the two-step cancellation
(cancel-requested from the sender, cancel-refused or cancelled from the
receiver). It prints the referral as it stands afterwards. A database (--db) is
updated with the event recorded; a snapshot (--state) is rewritten only with
--save.`,
	examples: []string{
		"refkit fhir apply --db /tmp/refkit-demo/refkit.db --network NETWORK-ID --org ORG-ID --user intake --in task.json",
		"refkit fhir apply --state network.json --org ORG-ID --save < task.json",
	},
	new: func() runner { return &fhirApplyCmd{} },
}

// fhirState is the JSON network snapshot the fhir command can work on instead
// of a database: each run loads the records into a memory store. Referrals
// are loaded as they are, with no history: each starts at version 1.
type fhirState struct {
	Network        referral.Network        `json:"network"`
	Organizations  []referral.Organization `json:"organizations"`
	Persons        []referral.Person       `json:"persons"`
	Consents       []referral.Consent      `json:"consents,omitempty"`
	Screenings     []referral.Screening    `json:"screenings,omitempty"`
	Referrals      []referral.Referral     `json:"referrals"`
	ImpliedConsent bool                    `json:"implied_consent,omitempty"`
}

// fhirFlags are the flags both subcommands take: where the records come from,
// who acts on them and the clock.
type fhirFlags struct {
	state, db, network      string
	org, role, user, person string
	now                     string
}

func (f *fhirFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.state, "state", "", "network snapshot JSON `FILE` (network, organizations, persons, consents, screenings, referrals), instead of --db")
	fs.StringVar(&f.db, "db", "", "refkit SQLite database `FILE`, instead of --state")
	fs.StringVar(&f.network, "network", "", "network `ID` (with --db)")
	fs.StringVar(&f.org, "org", "", "acting organization `ID`")
	fs.StringVar(&f.role, "role", string(referral.RoleStaff), "acting `ROLE`: staff, admin, system or delegate")
	fs.StringVar(&f.user, "user", "", "acting `USER`, recorded on events")
	fs.StringVar(&f.person, "person", "", "the person `ID` a delegate acts for")
	fs.StringVar(&f.now, "now", "", "the clock, an RFC 3339 `TIME` (default: the current time)")
}

// fhirArgs are the shared flags, checked and parsed before anything is read.
type fhirArgs struct {
	statePath, dbPath string
	// network is --network, for --db; a snapshot names its own network.
	network referral.ID
	// actor is who acts, but for its network, known once the records are.
	actor referral.Actor
	now   func() time.Time
}

// parse checks the shared flags: exactly one source of records, --save only
// with a snapshot, and every id and the clock well-formed.
func (f *fhirFlags) parse(save bool) (fhirArgs, error) {
	if (f.state == "") == (f.db == "") {
		return fhirArgs{}, errors.New("give exactly one of --db and --state")
	}
	if f.db != "" && save {
		return fhirArgs{}, errors.New("--save is for --state: apply writes to --db directly")
	}
	a := fhirArgs{statePath: f.state, dbPath: f.db, now: time.Now,
		actor: referral.Actor{User: f.user, Role: referral.Role(f.role)}}
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return fhirArgs{}, errors.New("--now must be an RFC 3339 time")
		}
		a.now = func() time.Time { return t }
	}
	if f.db != "" {
		network, err := referral.ParseID(f.network)
		if err != nil {
			return fhirArgs{}, fmt.Errorf("--network: %w", err)
		}
		a.network = network
	}
	for _, id := range []struct {
		flag string
		v    string
		dst  *referral.ID
	}{{"--org", f.org, &a.actor.Organization}, {"--person", f.person, &a.actor.Person}} {
		if id.v == "" {
			continue
		}
		parsed, err := referral.ParseID(id.v)
		if err != nil {
			return fhirArgs{}, fmt.Errorf("%s: %w", id.flag, err)
		}
		*id.dst = parsed
	}
	return a, nil
}

// fhirRecords are the records a subcommand works on, and the exchange over them.
type fhirRecords struct {
	store storage.Store
	// state is the snapshot the records came from, with --state.
	state fhirState
	// actor is the acting identity, in the records' network.
	actor    referral.Actor
	exchange *fhir.Exchange
}

// load opens the database or loads the snapshot into a memory store, and
// builds the lifecycle engine and the FHIR exchange over it. The caller closes
// the store.
func (a fhirArgs) load(ctx context.Context, opts fhir.Options) (*fhirRecords, error) {
	recs := &fhirRecords{actor: a.actor}
	if a.dbPath != "" {
		// The database must exist: a mistyped path should not create an empty one.
		if _, err := os.Stat(a.dbPath); err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
		db, err := sqlite.Open(ctx, a.dbPath, sqlite.Options{})
		if err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
		recs.store, recs.actor.Network = db, a.network
	} else {
		if err := decodeFile(a.statePath, &recs.state); err != nil {
			return nil, fmt.Errorf("reading --state: %w", err)
		}
		mem, err := loadFHIRState(ctx, recs.state)
		if err != nil {
			return nil, fmt.Errorf("loading --state: %w", err)
		}
		recs.store, recs.actor.Network = mem, recs.state.Network.ID
	}
	engine, err := lifecycle.New(recs.store, recs.store, lifecycle.Options{Now: a.now, ImpliedConsent: recs.state.ImpliedConsent})
	if err != nil {
		recs.store.Close()
		return nil, err
	}
	opts.Now = a.now
	recs.exchange, err = fhir.New(engine, recs.store, recs.store, opts)
	if err != nil {
		recs.store.Close()
		return nil, err
	}
	return recs, nil
}

var fhirCapacity = &command{
	name:    "capacity",
	summary: "print services' capacity statuses as FHIR HealthcareServices (a capacity inquiry)",
	args:    "(--db FILE --network ID | --state FILE) --org ID --service ID[,ID...] [flags]",
	about: `Capacity answers the SDOH Clinical Care IG's capacity inquiry, made before a
referral: it prints a searchset Bundle of the services --service (at most 100)
as the IG's HealthcareService for referral management, each with its capacity
status (has capacity, no capacity, waitlist) from the capacity the service
publishes, and the organizations that provide them. The inquiry names no person.`,
	examples: []string{
		"refkit fhir capacity --db /tmp/refkit-demo/refkit.db --network NETWORK-ID --org ORG-ID --service SERVICE-ID",
	},
	new: func() runner { return &fhirCapacityCmd{} },
}

type fhirExportCmd struct {
	fhirFlags
	referral, baseURL, personSystem string
	transaction                     bool
}

func (c *fhirExportCmd) flags(fs *flag.FlagSet) {
	c.define(fs)
	fs.StringVar(&c.referral, "referral", "", "the referral's `ID` (required)")
	fs.StringVar(&c.baseURL, "base-url", "", "FHIR base `URL` for the entries' fullUrl (default: urn:uuid entries)")
	fs.BoolVar(&c.transaction, "transaction", false, "print a transaction bundle of conditional creates and updates")
	fs.StringVar(&c.personSystem, "person-identifier-system", "", "identifier system `URI` of refkit's person id, for a person the host gave no identifier")
}

func (c *fhirExportCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	a, err := c.parse(false)
	if err != nil {
		return err
	}
	id, err := referral.ParseID(c.referral)
	if err != nil {
		return fmt.Errorf("--referral: %w", err)
	}
	recs, err := a.load(ctx, fhir.Options{BaseURL: c.baseURL, Transaction: c.transaction, PersonIdentifierSystem: c.personSystem})
	if err != nil {
		return err
	}
	defer recs.store.Close()
	return exportFHIR(ctx, recs, id, std.out)
}

type fhirCapacityCmd struct {
	fhirFlags
	services, baseURL string
}

func (c *fhirCapacityCmd) flags(fs *flag.FlagSet) {
	c.define(fs)
	fs.StringVar(&c.services, "service", "", "the services' `IDs`, comma-separated (required)")
	fs.StringVar(&c.baseURL, "base-url", "", "FHIR base `URL` for the entries' fullUrl (default: urn:uuid entries)")
}

func (c *fhirCapacityCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	a, err := c.parse(false)
	if err != nil {
		return err
	}
	if c.services == "" {
		return errors.New("--service is required")
	}
	var ids []referral.ID
	for s := range strings.SplitSeq(c.services, ",") {
		id, err := referral.ParseID(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("--service: %w", err)
		}
		ids = append(ids, id)
	}
	recs, err := a.load(ctx, fhir.Options{BaseURL: c.baseURL})
	if err != nil {
		return err
	}
	defer recs.store.Close()
	b, err := recs.exchange.Capacity(ctx, recs.actor, ids...)
	if err != nil {
		return err
	}
	return newEncoder(std.out, true).Encode(b)
}

// exportFHIR prints the referral as a FHIR Bundle.
func exportFHIR(ctx context.Context, recs *fhirRecords, id referral.ID, w io.Writer) error {
	b, err := recs.exchange.Export(ctx, recs.actor, id)
	if err != nil {
		return err
	}
	return newEncoder(w, true).Encode(b)
}

type fhirApplyCmd struct {
	fhirFlags
	in   string
	save bool
}

func (c *fhirApplyCmd) flags(fs *flag.FlagSet) {
	c.define(fs)
	fs.StringVar(&c.in, "in", "", "read the Task from `FILE` instead of standard input")
	fs.BoolVar(&c.save, "save", false, "write the updated referral back to the --state file")
}

func (c *fhirApplyCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	a, err := c.parse(c.save)
	if err != nil {
		return err
	}
	recs, err := a.load(ctx, fhir.Options{})
	if err != nil {
		return err
	}
	defer recs.store.Close()
	task, err := readInput(c.in, std.in)
	if err != nil {
		return err
	}
	var save func(referral.Referral) error
	if c.save {
		save = func(r referral.Referral) error { return saveFHIRState(c.state, recs.state, r) }
	}
	return applyFHIR(ctx, recs, task, save, std.out)
}

// applyFHIR applies the Task (or Bundle) in task through the lifecycle, saves
// the snapshot when save is set, and prints the referral as it stands after.
func applyFHIR(ctx context.Context, recs *fhirRecords, task []byte, save func(referral.Referral) error, w io.Writer) error {
	r, err := recs.exchange.Apply(ctx, recs.actor, task)
	if err != nil {
		return err
	}
	if save != nil {
		if err := save(r); err != nil {
			return err
		}
	}
	return newEncoder(w, true).Encode(r)
}

// loadFHIRState puts the snapshot into a memory store. Each referral is stored
// with a creation event by the system, at version 1.
func loadFHIRState(ctx context.Context, s fhirState) (*memory.Store, error) {
	store := memory.New()
	fail := func(err error) (*memory.Store, error) {
		store.Close()
		return nil, err
	}
	if err := store.PutNetwork(ctx, s.Network); err != nil {
		return fail(fmt.Errorf("network: %w", err))
	}
	for i, o := range s.Organizations {
		if err := store.PutOrganization(ctx, o); err != nil {
			return fail(fmt.Errorf("organizations[%d]: %w", i, err))
		}
	}
	for i, p := range s.Persons {
		if err := store.PutPerson(ctx, p); err != nil {
			return fail(fmt.Errorf("persons[%d]: %w", i, err))
		}
	}
	for i, c := range s.Consents {
		if err := store.PutConsent(ctx, c); err != nil {
			return fail(fmt.Errorf("consents[%d]: %w", i, err))
		}
	}
	for i, sc := range s.Screenings {
		if err := store.PutScreening(ctx, sc); err != nil {
			return fail(fmt.Errorf("screenings[%d]: %w", i, err))
		}
	}
	for i, r := range s.Referrals {
		r.Version = 1
		if r.Updated.Before(r.Created) {
			r.Updated = r.Created
		}
		ev := referral.Event{
			Network: r.Network, Referral: r.ID, Sequence: 1, Type: referral.EventCreated,
			Actor: referral.Actor{Network: s.Network.ID, Role: referral.RoleSystem}, At: r.Created, To: r.Status,
		}
		if _, _, err := store.CreateReferral(ctx, r, ev); err != nil {
			return fail(fmt.Errorf("referrals[%d]: %w", i, err))
		}
	}
	return store, nil
}

// saveFHIRState replaces the referral in the snapshot and rewrites the file
// through a temporary file, so a failed write leaves the old snapshot intact.
func saveFHIRState(path string, s fhirState, r referral.Referral) error {
	for i := range s.Referrals {
		if s.Referrals[i].ID == r.ID {
			s.Referrals[i] = r
		}
	}
	var buf bytes.Buffer
	if err := newEncoder(&buf, true).Encode(s); err != nil {
		return err
	}
	data := buf.Bytes()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".refkit-state-*")
	if err != nil {
		return fmt.Errorf("saving --state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving --state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving --state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving --state: %w", err)
	}
	return nil
}
