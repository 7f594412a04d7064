package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Store is what an Engine reads and writes besides the directory: referrals and
// their event log, and the person-side records a referral depends on (the
// person, the screenings its needs cite, the consents that let it be sent and
// seen). Every storage.Store satisfies it.
type Store interface {
	storage.Referrals
	GetPerson(ctx context.Context, network, id referral.ID) (referral.Person, error)
	GetScreening(ctx context.Context, network, id referral.ID) (referral.Screening, error)
	ListConsents(ctx context.Context, network, person referral.ID) ([]referral.Consent, error)
}

// Directory is where an Engine checks the organizations and services a
// referral names. Every storage.Store satisfies it; a host that keeps its
// directory in another system passes its own, and the engine then reads no
// directory record from the store. Errors must wrap the referral sentinels, an
// unknown record referral.ErrNotFound.
type Directory interface {
	GetOrganization(ctx context.Context, network, id referral.ID) (referral.Organization, error)
	GetService(ctx context.Context, network, id referral.ID) (referral.Service, error)
}

// PersonFinder is an optional interface of a Store: FindPerson reports
// whether the person exists in network (nil) or not (an error wrapping
// referral.ErrNotFound), without copying the record out as GetPerson does.
// Create checks a new referral's person with it when the store has it;
// storage/memory's Store does.
type PersonFinder interface {
	FindPerson(ctx context.Context, network, id referral.ID) error
}

// DirectoryFinder is an optional interface of a Directory: the checks Create
// makes of a new referral's receiver and service, without copying the
// records out as GetOrganization and GetService do. FindOrganization reports
// whether the organization exists in network; FindService returns the
// organization offering the service and whether location (when not zero) is
// one of its locations. An unknown record is an error wrapping
// referral.ErrNotFound. storage/memory's Store implements it.
type DirectoryFinder interface {
	FindOrganization(ctx context.Context, network, id referral.ID) error
	FindService(ctx context.Context, network, id, location referral.ID) (organization referral.ID, atLocation bool, err error)
}

// Options tune an Engine. The zero value is usable.
type Options struct {
	// Now is the clock; nil uses time.Now. Simulations pass a virtual clock.
	Now func() time.Time
	// IDs mints referral ids; nil uses a generator on Now and crypto/rand.
	IDs *referral.IDGenerator
	// Deadlines sets how long receivers have to respond; zero values set none.
	Deadlines Deadlines
	// NetworkDeadlines overrides Deadlines for the networks it names, so one
	// engine on one store serves networks with different policies. A network
	// it does not name uses Deadlines. The engine keeps its own copy.
	NetworkDeadlines map[referral.ID]Deadlines
	// ImpliedConsent is the host's policy that consent to share with the receiving
	// organization is implied (for example by a treatment relationship covered by
	// HIPAA), so sending needs no recorded Consent.
	ImpliedConsent bool
	// Codes are the reason and outcome code lists; the zero value uses DefaultCodes.
	Codes Codes
	// Logger receives debug records of each transition (ids and statuses only,
	// never personal data); nil logs nothing.
	Logger *slog.Logger
	// PollInterval is how often Follow re-reads the feed on a store that cannot
	// notify (storage.FeedNotifier); zero means one second.
	PollInterval time.Duration
	// TracerProvider receives a span per command and sweep (see the package
	// doc's Telemetry); nil means the OpenTelemetry global provider, which
	// records nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the command, sweep and Follow metrics; nil means
	// the OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// Deadlines are the durations a receiving organization has to respond to a sent
// referral, counted from when it was sent. The sweep escalates a referral at a
// missed deadline and expires it ExpireAfter later.
type Deadlines struct {
	// Acknowledge: from sent to acknowledged (or beyond). Zero sets no deadline.
	Acknowledge time.Duration `json:"acknowledge"`
	// Accept: from sent to accepted, waitlisted or declined. Zero sets none.
	Accept time.Duration `json:"accept"`
	// ExpireAfter is the grace after a missed deadline before the sweep expires the
	// referral (status cancelled, reason "expired"). Zero expires at the deadline
	// without escalating first; negative never expires, only escalates.
	ExpireAfter time.Duration `json:"expire_after"`
}

// Engine runs referral commands and queries against a store. It is safe for
// concurrent use; it holds no per-referral state.
type Engine struct {
	store     Store
	directory Directory
	now       func() time.Time
	ids       *referral.IDGenerator
	deadlines Deadlines
	networks  map[referral.ID]Deadlines
	implied   bool
	codes     Codes
	log       *slog.Logger
	poll      time.Duration
	tel       tel
}

// New returns an Engine on store and directory (usually the same
// storage.Store), or ErrInvalid if either is missing or an option is out of
// range.
func New(store Store, directory Directory, opts Options) (*Engine, error) {
	if store == nil {
		return nil, referral.Invalid("store", "is required")
	}
	if directory == nil {
		return nil, referral.Invalid("directory", "is required")
	}
	if opts.Deadlines.Acknowledge < 0 || opts.Deadlines.Accept < 0 {
		return nil, referral.Invalid("deadlines", "must not be negative")
	}
	for network, d := range opts.NetworkDeadlines {
		if network.IsZero() {
			return nil, referral.Invalid("network_deadlines", "names the zero network id")
		}
		if d.Acknowledge < 0 || d.Accept < 0 {
			return nil, referral.Invalid("network_deadlines["+network.String()+"]", "must not be negative")
		}
	}
	if opts.PollInterval < 0 {
		return nil, referral.Invalid("poll_interval", "must not be negative")
	}
	e := &Engine{
		store:     store,
		directory: directory,
		now:       opts.Now,
		ids:       opts.IDs,
		deadlines: opts.Deadlines,
		networks:  maps.Clone(opts.NetworkDeadlines),
		implied:   opts.ImpliedConsent,
		codes:     opts.Codes.clone(),
		log:       opts.Logger,
		poll:      opts.PollInterval,
		tel:       newTel(opts),
	}
	if e.poll == 0 {
		e.poll = time.Second
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.ids == nil {
		e.ids = referral.NewIDGenerator(e.now, nil)
	}
	if len(e.codes.Decline)+len(e.codes.Fail)+len(e.codes.Cancel)+len(e.codes.Hold)+len(e.codes.Outcome) == 0 {
		e.codes = DefaultCodes()
	}
	if err := e.codes.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// Codes returns a copy of the engine's code lists.
func (e *Engine) Codes() Codes { return e.codes.clone() }

// Command carries what a status change says beyond its trigger.
type Command struct {
	// Reason is a code from the trigger's list (required to decline, fail, cancel).
	Reason string
	// Note is free text for the other party (required for TriggerNote).
	Note string
	// Outcome is required to complete.
	Outcome *referral.Outcome
	// IfVersion, when set, makes the command conditional: it fails with
	// ErrConflict unless the referral is still at that version. Partner systems
	// exchanging updates (a FHIR Task with meta.versionId) use it so that a
	// change made from a stale copy is refused rather than applied. Versions
	// start at 1, so zero means no condition: an API that lets clients send a
	// version must tell an absent one from 0 itself. It is also what makes a
	// retry safe after referral.ErrUnavailable, when the first attempt may have
	// been written: retried with the version first read, a command that took
	// effect is ErrConflict instead of being applied twice.
	IfVersion int64
}

// CreateRequest asks for a new referral.
type CreateRequest struct {
	Person   referral.ID
	Needs    []referral.Need
	Receiver referral.ID
	// Service and Location, if set, must belong to the receiver.
	Service  referral.ID
	Location referral.ID
	// Priority defaults to the most pressing urgency among Needs.
	Priority referral.Urgency
	// Send sends the referral at once (consent required) instead of leaving a draft.
	Send bool
	// IdempotencyKey makes retries safe: the same key from the same organization
	// returns the referral the first call created. Set it whenever a create may
	// be retried, as after referral.ErrUnavailable, when the first attempt may
	// have been written.
	IdempotencyKey string
	// Replaces is the referral this one redirects, e.g. after a decline.
	Replaces referral.ID
	Note     string
}

// Create stores a new referral sent by the actor's organization, as a draft or,
// with Send, already requested. A retry with the same IdempotencyKey returns
// the referral the first call created. A need may cite only a screening of the
// same person in the actor's network (ErrInvalid naming needs[i].screening_id
// otherwise). A draft is its sender's alone until it is sent: nobody else sees
// it or can act on it (see storage.Visibility).
func (e *Engine) Create(ctx context.Context, actor referral.Actor, req CreateRequest) (referral.Referral, error) {
	r, _, err := e.CreateOnce(ctx, actor, req)
	return r, err
}

// CreateOnce is Create for callers that must tell a new referral from an
// idempotent replay, such as an HTTP API answering 201 Created or 200 OK:
// created is false when req.IdempotencyKey named a referral an earlier call
// created, which is returned unchanged.
func (e *Engine) CreateOnce(ctx context.Context, actor referral.Actor, req CreateRequest) (r referral.Referral, created bool, err error) {
	ctx, obs := e.tel.beginCreate(ctx, &actor)
	r, created, err = e.create(ctx, actor, req)
	obs.end(ctx, &r, "", err)
	if err != nil {
		return referral.Referral{}, false, fmt.Errorf("create referral: %w", err)
	}
	return r, created, nil
}

func (e *Engine) create(ctx context.Context, actor referral.Actor, req CreateRequest) (referral.Referral, bool, error) {
	if err := actor.Validate(); err != nil {
		return referral.Referral{}, false, fmt.Errorf("actor: %w", err)
	}
	if actor.Role != referral.RoleStaff {
		return referral.Referral{}, false, forbidden("organization staff")
	}
	if err := e.checkCreate(ctx, actor, req); err != nil {
		return referral.Referral{}, false, err
	}
	id, err := e.ids.New()
	if err != nil {
		return referral.Referral{}, false, err
	}
	now := e.now()
	r := referral.Referral{
		// The store copies what it keeps; req.Needs is only read until then.
		ID: id, Network: actor.Network, Person: req.Person, Needs: req.Needs,
		Sender: actor.Organization, SenderUser: actor.User, Receiver: req.Receiver,
		Service: req.Service, Location: req.Location, Status: referral.StatusDraft,
		Priority: req.Priority, Created: now, Updated: now, Version: 1,
		IdempotencyKey: req.IdempotencyKey, Replaces: req.Replaces,
	}
	if r.Priority == "" {
		r.Priority = referral.Routine
		for _, n := range r.Needs {
			if n.Urgency.Rank() > r.Priority.Rank() {
				r.Priority = n.Urgency
			}
		}
	}
	if req.Send {
		consent, err := e.consented(ctx, r, now)
		if err != nil {
			return referral.Referral{}, false, err
		}
		fc := newFiring(ctx, r, actor, Command{Note: req.Note}, &e.codes)
		fc.f.consent = consent
		err = fc.fire(TriggerSend)
		r = fc.r
		fc.release()
		if err != nil {
			return referral.Referral{}, false, err
		}
		e.afterTransition(&r, referral.StatusDraft, time.Time{}, TriggerSend, now)
	}
	// The store validates the referral and its event (storage.CheckCreate).
	ev := referral.Event{
		Network: r.Network, Referral: r.ID, Sequence: 1, Type: referral.EventCreated,
		Actor: actor, At: now, To: r.Status, Note: req.Note,
	}
	stored, created, err := e.store.CreateReferral(ctx, r, ev)
	if err != nil {
		return referral.Referral{}, false, err
	}
	if !created && !sameRequest(stored, r) {
		return referral.Referral{}, false, fmt.Errorf("idempotency key reused for a different referral: %w", referral.ErrConflict)
	}
	if created {
		e.logTransition(ctx, stored, "", "create")
	}
	return stored, created, nil
}

// sameRequest reports whether an idempotent replay asked for the same referral.
func sameRequest(a, b referral.Referral) bool {
	return a.Person == b.Person && a.Receiver == b.Receiver && a.Service == b.Service &&
		a.Location == b.Location && a.Replaces == b.Replaces && slices.Equal(a.Needs, b.Needs)
}

func (e *Engine) checkCreate(ctx context.Context, actor referral.Actor, req CreateRequest) error {
	if err := req.Person.Require("person_id"); err != nil {
		return err
	}
	if err := req.Receiver.Require("receiver_organization_id"); err != nil {
		return err
	}
	if req.Priority != "" {
		if err := req.Priority.Validate(); err != nil {
			return referral.Invalid("priority", "must be routine, urgent or emergent")
		}
	}
	if len(req.Needs) == 0 {
		return referral.Invalid("needs", "needs at least one need")
	}
	if err := e.findPerson(ctx, actor.Network, req.Person); err != nil {
		return fmt.Errorf("person: %w", err)
	}
	if err := e.checkScreenings(ctx, actor.Network, req); err != nil {
		return err
	}
	if err := e.findOrganization(ctx, actor.Network, req.Receiver); err != nil {
		return fmt.Errorf("receiving organization: %w", err)
	}
	if !req.Service.IsZero() {
		org, atLocation, err := e.findService(ctx, actor.Network, req.Service, req.Location)
		if err != nil {
			return fmt.Errorf("service: %w", err)
		}
		if org != req.Receiver {
			return referral.Invalid("service_id", "is not a service of the receiving organization")
		}
		if !req.Location.IsZero() && !atLocation {
			return referral.Invalid("location_id", "is not a location of the service")
		}
	} else if !req.Location.IsZero() {
		return referral.Invalid("location_id", "needs a service_id")
	}
	if !req.Replaces.IsZero() {
		old, err := e.Get(ctx, actor, req.Replaces)
		if err != nil {
			return fmt.Errorf("replaced referral: %w", err)
		}
		if old.Person != req.Person {
			return referral.Invalid("replaces", "is a referral for another person")
		}
	}
	return nil
}

// findPerson checks the person exists, through PersonFinder when the store
// has it.
func (e *Engine) findPerson(ctx context.Context, network, id referral.ID) error {
	if f, ok := e.store.(PersonFinder); ok {
		return f.FindPerson(ctx, network, id)
	}
	_, err := e.store.GetPerson(ctx, network, id)
	return err
}

// findOrganization checks the organization exists, through DirectoryFinder
// when the directory has it.
func (e *Engine) findOrganization(ctx context.Context, network, id referral.ID) error {
	if f, ok := e.directory.(DirectoryFinder); ok {
		return f.FindOrganization(ctx, network, id)
	}
	_, err := e.directory.GetOrganization(ctx, network, id)
	return err
}

// findService returns the organization offering the service and whether
// location is one of its, through DirectoryFinder when the directory has it.
func (e *Engine) findService(ctx context.Context, network, id, location referral.ID) (referral.ID, bool, error) {
	if f, ok := e.directory.(DirectoryFinder); ok {
		return f.FindService(ctx, network, id, location)
	}
	svc, err := e.directory.GetService(ctx, network, id)
	if err != nil {
		return referral.NilID, false, err
	}
	_, at := svc.Location(location)
	return svc.Organization, at, nil
}

// checkScreenings refuses a need that cites a screening other than one of the
// person's own in the actor's network: sending it would hand the receiver
// someone else's answers. The store checks the same inside its write; checking
// here first refuses before anything else is done, with the same error.
func (e *Engine) checkScreenings(ctx context.Context, network referral.ID, req CreateRequest) error {
	for i, n := range req.Needs {
		if n.Screening.IsZero() {
			continue
		}
		sc, err := e.store.GetScreening(ctx, network, n.Screening)
		switch {
		case errors.Is(err, referral.ErrNotFound):
			return storage.ForeignScreening(i)
		case err != nil:
			return fmt.Errorf("screening: %w", err)
		case sc.Person != req.Person:
			return storage.ForeignScreening(i)
		}
	}
	return nil
}

// consented reports whether r may be sent to its receiver at time at.
func (e *Engine) consented(ctx context.Context, r referral.Referral, at time.Time) (bool, error) {
	if e.implied {
		return true, nil
	}
	consents, err := e.store.ListConsents(ctx, r.Network, r.Person)
	if err != nil {
		return false, fmt.Errorf("consents: %w", err)
	}
	for _, c := range consents {
		if c.Permits(r.Receiver, referral.ScopeReferral, at) {
			return true, nil
		}
	}
	return false, nil
}

// Send sends a draft: requested, with deadlines started. Needs consent.
func (e *Engine) Send(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerSend, Command{})
}

// Acknowledge records that the receiver has seen the referral and not yet
// decided: it stays requested, with business status acknowledged (the FHIR
// "received" status, which the SDOH Clinical Care IG leaves out of referrals).
func (e *Engine) Acknowledge(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerAcknowledge, Command{})
}

// Accept records that the receiver will serve the person.
func (e *Engine) Accept(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerAccept, Command{Note: note})
}

// Waitlist records that the receiver takes the person onto its waiting list:
// accepted, business status waitlisted. It accepts a requested referral, or
// puts an accepted one back on the list.
func (e *Engine) Waitlist(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerWaitlist, Command{Note: note})
}

// Schedule records that an appointment is booked for an accepted or started
// referral (business status scheduled); scheduling again reschedules. The
// note can carry the time and place.
func (e *Engine) Schedule(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerSchedule, Command{Note: note})
}

// NoShow records that the person missed a scheduled appointment (business
// status no-show). The receiver may schedule again, or fail the referral
// with reason no-show.
func (e *Engine) NoShow(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerNoShow, Command{Note: note})
}

// Decline records that the receiver will not serve the person (rejected); reason
// comes from Codes.Decline.
func (e *Engine) Decline(ctx context.Context, actor referral.Actor, id referral.ID, reason, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerDecline, Command{Reason: reason, Note: note})
}

// Start records that service has begun (in-progress).
func (e *Engine) Start(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerStart, Command{})
}

// Hold pauses the referral (on-hold); the reason, if any, comes from Codes.Hold.
func (e *Engine) Hold(ctx context.Context, actor referral.Actor, id referral.ID, reason, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerHold, Command{Reason: reason, Note: note})
}

// Resume continues a held referral (in-progress).
func (e *Engine) Resume(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerResume, Command{})
}

// Complete closes the loop: the receiver records the outcome for the person.
func (e *Engine) Complete(ctx context.Context, actor referral.Actor, id referral.ID, outcome referral.Outcome) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerComplete, Command{Outcome: &outcome, Note: outcome.Note})
}

// Fail records that the receiver could not serve the person after accepting or
// receiving; reason comes from Codes.Fail.
func (e *Engine) Fail(ctx context.Context, actor referral.Actor, id referral.ID, reason, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerFail, Command{Reason: reason, Note: note})
}

// Cancel withdraws a referral the receiver has not taken on (a draft, or a
// requested one): the sender or the person's delegate, with a reason from
// Codes.Cancel. One the receiver accepted or started is cancelled in two
// steps: RequestCancel, then the receiver's ConfirmCancel or RefuseCancel.
func (e *Engine) Cancel(ctx context.Context, actor referral.Actor, id referral.ID, reason, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerCancel, Command{Reason: reason, Note: note})
}

// RequestCancel asks the receiver to cancel a referral it has accepted or
// started (the sender or the person's delegate, with a reason from
// Codes.Cancel). The status stays; the business status is cancel-requested
// until the receiver answers, and meanwhile the receiver may only confirm,
// refuse, complete or fail it.
func (e *Engine) RequestCancel(ctx context.Context, actor referral.Actor, id referral.ID, reason, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerRequestCancel, Command{Reason: reason, Note: note})
}

// ConfirmCancel is the receiver agreeing to a requested cancellation: the
// referral is cancelled with the reason the request gave.
func (e *Engine) ConfirmCancel(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerConfirmCancel, Command{Note: note})
}

// RefuseCancel is the receiver declining a requested cancellation and going on
// serving the person (business status cancel-refused); the note says why.
func (e *Engine) RefuseCancel(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerRefuseCancel, Command{Note: note})
}

// Expire cancels an overdue referral with reason "expired". Only a system actor may;
// Sweep calls it for every referral past its deadline.
func (e *Engine) Expire(ctx context.Context, actor referral.Actor, id referral.ID) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerExpire, Command{Reason: ReasonExpired})
}

// EnterInError marks a referral that should never have existed.
func (e *Engine) EnterInError(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerEnterInError, Command{Note: note})
}

// AddNote appends a message for the other party without changing the status.
func (e *Engine) AddNote(ctx context.Context, actor referral.Actor, id referral.ID, note string) (referral.Referral, error) {
	return e.Do(ctx, actor, id, TriggerNote, Command{Note: note})
}

// Do runs one command: load the referral with its version, check the actor may see
// it, fire the trigger (guards check the actor's role, consent, reasons and
// outcome), then write the referral and its event in one write conditioned on the
// version read. A concurrent writer that got there first makes it ErrConflict.
func (e *Engine) Do(ctx context.Context, actor referral.Actor, id referral.ID, t Trigger, cmd Command) (referral.Referral, error) {
	r, _, err := e.do(ctx, actor, id, t, cmd)
	return r, err
}

func (e *Engine) do(ctx context.Context, actor referral.Actor, id referral.ID, t Trigger, cmd Command) (out referral.Referral, written referral.Event, err error) {
	// Observed in place, not by a wrapper: a wrapper would copy the referral
	// and its event once more on every command, observed or not.
	ctx, obs := e.tel.begin(ctx, t, &actor, id)
	if obs.observing() {
		defer obs.endDo(ctx, &out, &written, &err)
	}
	evType, ok := eventTypes[t]
	if !ok {
		return referral.Referral{}, referral.Event{}, referral.Invalid("trigger", "is not a lifecycle trigger")
	}
	if err := actor.Validate(); err != nil {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s: actor: %w", t, err)
	}
	if err := checkCommand(t, &cmd); err != nil {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s: %w", t, err)
	}
	now := e.now()
	r, err := e.load(ctx, actor, id, now)
	if err != nil {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s: %w", t, err)
	}
	if cmd.IfVersion != 0 && cmd.IfVersion != r.Version {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s referral %s: at version %d, not %d: %w",
			t, id, r.Version, cmd.IfVersion, referral.ErrConflict)
	}
	from, cancelReason, dueBefore := r.Status, r.CancelReason, pendingDeadline(r)
	consent := false
	if t == TriggerSend && r.Status == referral.StatusDraft {
		if consent, err = e.consented(ctx, r, now); err != nil {
			return referral.Referral{}, referral.Event{}, fmt.Errorf("%s: %w", t, err)
		}
	}
	fc := newFiring(ctx, r, actor, cmd, &e.codes)
	fc.f.consent = consent
	err = fc.fire(t)
	r.Status, r.BusinessStatus = fc.r.Status, fc.r.BusinessStatus
	fc.release()
	if err != nil {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s referral %s: %w", t, id, err)
	}
	evReason := cmd.Reason
	switch {
	case t == TriggerRequestCancel:
		// The status's own reason (a hold's) stands while the receiver decides.
		r.CancelReason = cmd.Reason
	case t == TriggerConfirmCancel:
		r.Reason, evReason = cancelReason, cancelReason
	case cmd.Reason != "":
		r.Reason = cmd.Reason
	case r.Status != from:
		r.Reason = ""
	}
	if r.BusinessStatus != referral.BusinessCancelRequested {
		r.CancelReason = ""
	}
	if cmd.Outcome != nil {
		o := *cmd.Outcome
		r.Outcome = &o
	}
	e.afterTransition(&r, from, dueBefore, t, now)
	r.Updated = now
	r.Version++
	ev := referral.Event{
		Network: r.Network, Referral: r.ID, Sequence: r.Version, Type: evType, Actor: actor,
		At: now, From: from, To: r.Status, Reason: evReason, Note: cmd.Note,
	}
	stored, err := e.store.UpdateReferral(ctx, r, ev)
	if err != nil {
		return referral.Referral{}, referral.Event{}, fmt.Errorf("%s referral %s: %w", t, id, err)
	}
	e.logTransition(ctx, r, from, t)
	return r, stored, nil
}

// checkCommand rejects what a trigger does not take, so nothing unchecked is
// written: a reason only where a code list governs it, an outcome only to
// complete. Expiry always records ReasonExpired.
func checkCommand(t Trigger, cmd *Command) error {
	if err := referral.ValidateNote(cmd.Note); err != nil {
		return err
	}
	if cmd.IfVersion < 0 {
		return referral.Invalid("if_version", "must not be negative")
	}
	switch t {
	case TriggerDecline, TriggerFail, TriggerCancel, TriggerHold, TriggerRequestCancel:
	case TriggerExpire:
		if cmd.Reason != "" && cmd.Reason != ReasonExpired {
			return referral.Invalid("reason", "must be "+ReasonExpired+" or empty to expire")
		}
		cmd.Reason = ReasonExpired
	default:
		if cmd.Reason != "" {
			return referral.Invalid("reason", "is not taken by this command")
		}
	}
	if cmd.Outcome != nil && t != TriggerComplete {
		return referral.Invalid("outcome", "is only taken to complete a referral")
	}
	return nil
}

// load reads a referral the actor may see at now; one it may not see is ErrNotFound.
func (e *Engine) load(ctx context.Context, actor referral.Actor, id referral.ID, now time.Time) (referral.Referral, error) {
	r, err := e.store.GetReferral(ctx, actor.Network, id)
	if errors.Is(err, referral.ErrNotFound) {
		return referral.Referral{}, unseen(id)
	}
	if err != nil {
		return referral.Referral{}, err
	}
	ok, err := e.visible(ctx, actor, r, now)
	if err != nil {
		return referral.Referral{}, err
	}
	if !ok {
		return referral.Referral{}, unseen(id)
	}
	return r, nil
}

// unseen is the one error for a referral that does not exist (in the actor's
// network) and for one the actor may not see: the store's own message for a
// missing one ("sqlite: referral ...") would tell the two apart, and so tell
// that a referral exists.
func unseen(id referral.ID) error {
	return fmt.Errorf("referral %s: %w", id, referral.ErrNotFound)
}

// visible applies storage.Visibility, loading consents only when the cheap checks
// do not already decide.
func (e *Engine) visible(ctx context.Context, actor referral.Actor, r referral.Referral, now time.Time) (bool, error) {
	v, limited := visibility(actor, now)
	if !limited {
		return true, nil
	}
	if v.Allows(r, nil) {
		return true, nil
	}
	// Only a view consent could still grant sight, and never of an unsent referral.
	if v.Organization.IsZero() || storage.Unsent(r) {
		return false, nil
	}
	consents, err := e.store.ListConsents(ctx, r.Network, r.Person)
	if err != nil {
		return false, err
	}
	return v.Allows(r, consents), nil
}

// visibility is the read filter for an actor at now; limited is false when the
// actor sees the whole network.
func visibility(actor referral.Actor, now time.Time) (v storage.Visibility, limited bool) {
	switch actor.Role {
	case referral.RoleAdmin, referral.RoleSystem:
		return storage.Visibility{}, false
	case referral.RoleDelegate:
		return storage.Visibility{Person: actor.Person, At: now}, true
	}
	return storage.Visibility{Organization: actor.Organization, At: now}, true
}

// visibilityFilter is visibility as a storage query filter.
func (e *Engine) visibilityFilter(actor referral.Actor) *storage.Visibility {
	v, limited := visibility(actor, e.now())
	if !limited {
		return nil
	}
	return &v
}

// afterTransition keeps milestones and deadlines in step with a change from
// status from, when dueBefore was pending: the acknowledged milestone is the first of acknowledge, accept or
// waitlist; an escalation is forgotten once the deadline it was about is no
// longer pending.
func (e *Engine) afterTransition(r *referral.Referral, from referral.Status, dueBefore time.Time, t Trigger, now time.Time) {
	if t == TriggerEscalate {
		r.Escalated = now
	}
	if r.Status != from || !pendingDeadline(*r).Equal(dueBefore) {
		r.Escalated = time.Time{}
	}
	if r.Status != from {
		switch r.Status {
		case referral.StatusRequested:
			r.Sent = now
			d := e.Deadlines(r.Network)
			if d.Acknowledge > 0 {
				r.AcknowledgeBy = now.Add(d.Acknowledge)
			}
			if d.Accept > 0 {
				r.AcceptBy = now.Add(d.Accept)
			}
			r.Escalated = time.Time{}
		case referral.StatusAccepted:
			r.Accepted = now
		}
		if r.Status.Terminal() {
			r.Closed = now
		}
	}
	if r.Acknowledged.IsZero() && (r.BusinessStatus == referral.BusinessAcknowledged || r.Status == referral.StatusAccepted) {
		r.Acknowledged = now
	}
	r.NextDeadline = e.nextDeadline(*r)
}

// pendingDeadline is the earliest deadline the referral still waits on: a
// requested referral's acknowledgement (until acknowledged) and acceptance.
func pendingDeadline(r referral.Referral) time.Time {
	var due time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	if r.Status == referral.StatusRequested {
		if r.BusinessStatus != referral.BusinessAcknowledged {
			consider(r.AcknowledgeBy)
		}
		consider(r.AcceptBy)
	}
	return due
}

// nextDeadline is when the sweep must next look at r: the pending deadline, or,
// once escalated, the expiry after it.
func (e *Engine) nextDeadline(r referral.Referral) time.Time {
	due := pendingDeadline(r)
	if due.IsZero() {
		return time.Time{}
	}
	if r.Escalated.IsZero() {
		return due
	}
	expire := e.Deadlines(r.Network).ExpireAfter
	if expire < 0 {
		return time.Time{}
	}
	return due.Add(expire)
}

// Deadlines returns the deadlines the engine applies in network: its entry
// in Options.NetworkDeadlines, else Options.Deadlines.
func (e *Engine) Deadlines(network referral.ID) Deadlines {
	if d, ok := e.networks[network]; ok {
		return d
	}
	return e.deadlines
}

func (e *Engine) logTransition(ctx context.Context, r referral.Referral, from referral.Status, t Trigger) {
	if e.log == nil {
		return
	}
	e.log.LogAttrs(ctx, slog.LevelDebug, "referral transition",
		slog.String("referral_id", r.ID.String()), slog.String("trigger", string(t)),
		slog.String("from", string(from)), slog.String("to", string(r.Status)), slog.Int64("version", r.Version))
}
