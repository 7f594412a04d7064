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
	"time"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(command{name: "fhir", summary: "export a referral as a FHIR R4 bundle, or apply a FHIR Task update (SDOH Clinical Care IG)", run: runFHIR})
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

const fhirUsage = `usage:
  refkit fhir export (--db FILE --network ID | --state FILE) --referral ID --org ID [--role staff] [--base-url URL]
  refkit fhir apply  (--db FILE --network ID | --state FILE [--save]) --org ID [--in TASK.json]

export prints the referral as a FHIR R4 Bundle (SDOHCC ServiceRequest, Task,
Consent, Patient, Organizations, screening Observations). apply reads a Task, or
a Bundle holding one, from --in or stdin and applies it through the lifecycle;
it prints the referral as it stands afterwards. The records come from a refkit
SQLite database (--db, which apply updates, with the event recorded) or from a
JSON snapshot (--state, which apply rewrites only with --save). The acting
identity is given by --org/--role/--user/--person: the command trusts its flags
as a host trusts its own authentication.`

func runFHIR(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "apply") {
		fmt.Fprintln(stderr, fhirUsage)
		if len(args) > 0 && isHelp(args[0]) {
			return flag.ErrHelp
		}
		return errors.New("want a subcommand: export or apply")
	}
	sub := args[0]
	fs := flag.NewFlagSet("fhir "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", "", "network snapshot (JSON: network, organizations, persons, consents, screenings, referrals)")
	dbPath := fs.String("db", "", "refkit SQLite database file (instead of --state)")
	networkFlag := fs.String("network", "", "network id (with --db)")
	org := fs.String("org", "", "acting organization id")
	role := fs.String("role", string(referral.RoleStaff), "acting role: staff, admin, system or delegate")
	user := fs.String("user", "", "acting user, recorded on events")
	person := fs.String("person", "", "the person a delegate acts for")
	nowFlag := fs.String("now", "", "the clock, RFC 3339 (default: the current time)")
	var id, base, in *string
	var save *bool
	if sub == "export" {
		id = fs.String("referral", "", "referral id")
		base = fs.String("base-url", "", "FHIR base URL for the entries' fullUrl")
	} else {
		in = fs.String("in", "", "read the Task from this file instead of stdin")
		save = fs.Bool("save", false, "write the updated referral back to the state file")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (*statePath == "") == (*dbPath == "") {
		return errors.New("give exactly one of --db and --state")
	}
	if *dbPath != "" && save != nil && *save {
		return errors.New("--save is for --state: apply writes to --db directly")
	}
	now := time.Now
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return errors.New("--now must be an RFC 3339 time")
		}
		now = func() time.Time { return t }
	}
	var (
		state   fhirState
		store   storage.Store
		network referral.ID
		err     error
	)
	if *dbPath != "" {
		if network, err = referral.ParseID(*networkFlag); err != nil {
			return fmt.Errorf("--network: %w", err)
		}
		// The database must exist: a mistyped path should not create an empty one.
		if _, err := os.Stat(*dbPath); err != nil {
			return fmt.Errorf("--db: %w", err)
		}
		db, err := sqlite.Open(ctx, *dbPath, sqlite.Options{})
		if err != nil {
			return fmt.Errorf("--db: %w", err)
		}
		store = db
	} else {
		if err := decodeFile(*statePath, &state); err != nil {
			return fmt.Errorf("reading --state: %w", err)
		}
		network = state.Network.ID
		mem, err := loadFHIRState(ctx, state)
		if err != nil {
			return fmt.Errorf("loading --state: %w", err)
		}
		store = mem
	}
	defer store.Close()
	actor := referral.Actor{Network: network, User: *user, Role: referral.Role(*role)}
	for _, f := range []struct {
		flag string
		v    string
		dst  *referral.ID
	}{{"--org", *org, &actor.Organization}, {"--person", *person, &actor.Person}} {
		if f.v == "" {
			continue
		}
		parsed, err := referral.ParseID(f.v)
		if err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
		*f.dst = parsed
	}
	engine, err := lifecycle.New(lifecycle.Config{Store: store, Now: now, ImpliedConsent: state.ImpliedConsent})
	if err != nil {
		return err
	}
	cfg := fhir.Config{Engine: engine, Store: store, Now: now}
	if base != nil {
		cfg.BaseURL = *base
	}
	x, err := fhir.New(cfg)
	if err != nil {
		return err
	}
	enc := newEncoder(stdout, true)

	if sub == "export" {
		rid, err := referral.ParseID(*id)
		if err != nil {
			return fmt.Errorf("--referral: %w", err)
		}
		b, err := x.Export(ctx, actor, rid)
		if err != nil {
			return err
		}
		return enc.Encode(b)
	}
	data, err := readInput(*in, stdin)
	if err != nil {
		return err
	}
	r, err := x.Apply(ctx, actor, data)
	if err != nil {
		return err
	}
	if save != nil && *save {
		if err := saveFHIRState(*statePath, state, r); err != nil {
			return err
		}
	}
	return enc.Encode(r)
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
