package storage

import (
	"context"
	"time"

	"github.com/refkit/refkit/referral"
)

// Store is everything refkit persists. A backend implements all of it and passes
// storagetest.Run.
//
// Contracts shared by every method:
//   - ctx is honoured: a cancelled context makes a call fail with ctx.Err() in its chain.
//   - Values are copied in and out: mutating an argument after a call, or a result
//     after it returned, never changes what is stored.
//   - Every read and write is scoped to one network. A record looked up in another
//     network than its own is referral.ErrNotFound.
//   - Errors wrap the referral sentinels: ErrNotFound, ErrConflict, ErrInvalid, and
//     ErrUnavailable when the backend could not do the work (connection refused or
//     lost, server shutting down or overloaded, a lock held past the busy timeout,
//     an I/O failure). A call on a closed store fails with ErrClosed, and one on a
//     store whose schema needs migrating with ErrSchemaBehind. No driver error is
//     passed through without one of these in its chain.
//   - Inputs are validated (their Validate method) before anything is written, and a
//     failed call writes nothing, with one exception: a write that fails with
//     ErrUnavailable because the connection was lost while it committed may have
//     been written. Retry it safely: CreateReferral with the same idempotency key
//     returns the referral if the first attempt was written, and UpdateReferral
//     with the same version is ErrConflict if it was.
//   - Filters and pages are bounded (see Page, ReferralQuery, FeedQuery): every
//     backend refuses the same oversized query with the same ErrInvalid, checked
//     by CheckPage, CheckReferralQuery and CheckFeed.
//   - Times come back as the same instants. A backend may
//     return them in UTC rather than the zone they were written in (the SQL
//     backends keep integers or timestamps), so compare them with Equal.
type Store interface {
	Networks
	Directory
	Persons
	Consents
	Screenings
	Referrals
	// Close releases the backend's resources and wakes feed followers. Every
	// later call fails with ErrClosed; closing again does nothing and returns nil.
	Close() error
}

// Networks stores tenants.
type Networks interface {
	// PutNetwork creates or replaces a network.
	PutNetwork(ctx context.Context, n referral.Network) error
	// GetNetwork returns the network, or ErrNotFound.
	GetNetwork(ctx context.Context, id referral.ID) (referral.Network, error)
}

// Directory stores organizations and their services (with locations). A
// store that implements DirectoryFeed also records every write made here in
// the network's directory feed, in the same atomic write.
type Directory interface {
	// PutOrganization creates or replaces an organization. Its network must exist
	// (ErrNotFound otherwise); an id already used in another network is ErrConflict.
	PutOrganization(ctx context.Context, o referral.Organization) error
	GetOrganization(ctx context.Context, network, id referral.ID) (referral.Organization, error)
	// ListOrganizations pages through a network's organizations in id order.
	ListOrganizations(ctx context.Context, network referral.ID, page Page) ([]referral.Organization, referral.ID, error)
	// PutService creates or replaces a service. Its organization must exist in the
	// same network (ErrNotFound otherwise); an id already used in another network is
	// ErrConflict.
	PutService(ctx context.Context, s referral.Service) error
	GetService(ctx context.Context, network, id referral.ID) (referral.Service, error)
	// ListServices pages through a network's services in id order.
	ListServices(ctx context.Context, network referral.ID, page Page) ([]referral.Service, referral.ID, error)
	// DeleteService removes a service; ErrNotFound if there is none.
	DeleteService(ctx context.Context, network, id referral.ID) error
}

// Persons stores the people screened and referred.
type Persons interface {
	// PutPerson creates or replaces a person. Its network must exist; an id already
	// used in another network is ErrConflict.
	PutPerson(ctx context.Context, p referral.Person) error
	GetPerson(ctx context.Context, network, id referral.ID) (referral.Person, error)
}

// Consents stores consents. Revoking is a PutConsent with Revoked set: consents
// are never deleted, so what was permitted when can always be shown.
type Consents interface {
	// PutConsent creates or replaces a consent. The person and the grantee
	// organization must exist in the consent's network (ErrNotFound otherwise).
	PutConsent(ctx context.Context, c referral.Consent) error
	GetConsent(ctx context.Context, network, id referral.ID) (referral.Consent, error)
	// ListConsents returns every consent the person gave, in id order.
	ListConsents(ctx context.Context, network, person referral.ID) ([]referral.Consent, error)
}

// Screenings stores screening results.
type Screenings interface {
	// PutScreening stores a result; results are immutable, so a second put with the
	// same id is ErrConflict. The person must exist (ErrNotFound otherwise).
	PutScreening(ctx context.Context, s referral.Screening) error
	GetScreening(ctx context.Context, network, id referral.ID) (referral.Screening, error)
	// ListScreenings returns the person's results in id (time) order.
	ListScreenings(ctx context.Context, network, person referral.ID) ([]referral.Screening, error)
}

// Referrals stores referrals and their append-only event log. A referral and the
// event that records its change are always written together, atomically.
type Referrals interface {
	// CreateReferral stores a new referral (Version 1) with its first event
	// (Sequence 1) atomically, and returns the stored referral and true.
	//
	// It checks, in this order: validation (ErrInvalid, see CheckCreate); the
	// network exists (ErrNotFound); if r.IdempotencyKey is set and a referral
	// with the same network, sender and key already exists, nothing is written
	// and that referral is returned with false; every screening a need cites is
	// a screening of r.Person in r.Network (ErrInvalid, see ForeignScreening);
	// the id is free (ErrConflict).
	CreateReferral(ctx context.Context, r referral.Referral, e referral.Event) (referral.Referral, bool, error)
	// GetReferral returns the referral, or ErrNotFound. It does not filter by access;
	// lifecycle does.
	GetReferral(ctx context.Context, network, id referral.ID) (referral.Referral, error)
	// UpdateReferral replaces the referral and appends e, atomically, only if the
	// stored version is r.Version-1 (the version the caller read): otherwise
	// ErrConflict and nothing is written. e.Sequence must equal r.Version. It returns
	// the event with its feed Position assigned.
	//
	// It checks, in this order: validation (ErrInvalid, see CheckUpdate); the
	// referral exists in the network (ErrNotFound); the version (ErrConflict);
	// e.From is the stored status (ErrInvalid); every screening a need cites is a
	// screening of r.Person in r.Network (ErrInvalid, see ForeignScreening).
	UpdateReferral(ctx context.Context, r referral.Referral, e referral.Event) (referral.Event, error)
	// ListReferrals pages through referrals matching q, in id (creation) order.
	// It returns the page and the cursor for the next one (zero when done).
	ListReferrals(ctx context.Context, q ReferralQuery) ([]referral.Referral, referral.ID, error)
	// ReferralEvents returns a referral's events in sequence order, or ErrNotFound.
	ReferralEvents(ctx context.Context, network, id referral.ID) ([]referral.Event, error)
	// Feed returns a network's events with Position greater than q.After, in
	// Position order, at most q.Limit of them. Positions are strictly increasing
	// within a network (not necessarily contiguous); an event appended after a
	// reader saw position p always gets a position above p, so a follower that
	// resumes from its last position never misses one. With Visible set the limit
	// counts visible events, so a page shorter than the limit means the reader
	// has reached the end of the feed as it stood.
	Feed(ctx context.Context, q FeedQuery) ([]referral.Event, error)
	// DueReferrals returns up to limit referrals, from every network, whose
	// NextDeadline is set and not after now, earliest first (ties by id). The
	// deadline sweep calls it.
	DueReferrals(ctx context.Context, now time.Time, limit int) ([]referral.Referral, error)
}

// FeedNotifier is implemented by stores that can wake feed followers when events
// are appended, so that followers need not poll: the memory store with a
// channel, SQLite by watching the feed's head, PostgreSQL with LISTEN/NOTIFY.
// lifecycle.Engine.Follow uses it when the store has it, and then does not
// poll, so a store may implement it only if it is woken by every append to
// the database, whoever made it: through this Store, another Store value, or
// another process. A backend that cannot see some writers must close its
// channels on a timer for them (as PostgreSQL does with Options.NoNotify) and
// say so.
type FeedNotifier interface {
	// FeedChanged returns a channel that is closed after the first append to the
	// network's feed that follows the call (or when the store closes), within
	// the backend's stated delay for appends made elsewhere. A follower takes
	// the channel first, then reads the feed, then waits on the channel: an
	// append between the read and the wait still wakes it. A channel may also
	// close without an append; the follower then reads nothing new and waits
	// again. An unknown network is ErrNotFound.
	FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error)
}

// Leaser is implemented by stores that several processes share (PostgreSQL),
// to elect one of them for a job only one should do at a time, such as the
// deadline sweep (lifecycle.Engine.SweepLeased). A lease is held by one holder
// until its time-to-live passes without a renewal; the store's own clock times
// it, so processes with skewed clocks still agree. Stores used by one process
// (memory) or serialised by their own locks (SQLite) do not implement it:
// there the work runs unconditionally.
type Leaser interface {
	// Lease takes or renews the lease called name for holder, for ttl from
	// now. It returns true when holder holds the lease afterwards (it was
	// free, had expired, or was holder's already) and false while another
	// holder's lease is live. Calling it again within ttl renews it.
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// Query limits. Every backend applies them through CheckPage, CheckReferralQuery
// and CheckFeed, so an oversized query is the same ErrInvalid on each. Queries
// take single ids, never lists of them, and no free-text filters.
const (
	// DefaultLimit is the page size a zero limit means.
	DefaultLimit = 100
	// MaxLimit is the largest page: a listing never returns more records, and a
	// feed read never more events, in one call.
	MaxLimit = 1000
	// MaxStatuses is the most entries a status filter may have: one per status
	// (a repeated status is ErrInvalid too).
	MaxStatuses = 10
)

// Page asks for one page of an id-ordered listing.
type Page struct {
	// After is the last id of the previous page; zero starts at the beginning.
	After referral.ID
	// Limit is the page size: 0 means DefaultLimit; above MaxLimit or negative is
	// ErrInvalid.
	Limit int
}

// ReferralQuery selects referrals. Set fields are combined with AND.
type ReferralQuery struct {
	Network  referral.ID
	Sender   referral.ID
	Receiver referral.ID
	Person   referral.ID
	// Statuses, if not empty, keeps referrals in any of them: distinct known
	// statuses, at most MaxStatuses.
	Statuses []referral.Status
	// CreatedFrom and CreatedTo keep referrals created in [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Visible, if not nil, keeps only referrals it allows.
	Visible *Visibility
	Page    Page
}

// FeedQuery selects events from a network's feed.
type FeedQuery struct {
	Network referral.ID
	// After is the last position the reader has seen; 0 reads from the start.
	After int64
	// Limit: 0 means DefaultLimit; above MaxLimit or negative is ErrInvalid.
	Limit int
	// Visible, if not nil, keeps only events of referrals it allows.
	Visible *Visibility
}

// Visibility is the access rule every backend applies to reads: who may see a
// referral. It is data, not a callback, so SQL backends can push it into queries.
//
// A referral is visible to its sender, always. A referral that was never sent
// (see Unsent) is the sender's alone: nobody else sees it, so nobody else can
// act on it. Once sent, it is also visible to its receiver, to the delegate of
// its person, and to an organization the person gave an active ScopeView consent
// at time At. When both Organization and Person are set, either grants access.
// Network admins and system actors are not limited by a Visibility at all: the
// lifecycle passes none for them.
type Visibility struct {
	Organization referral.ID
	Person       referral.ID
	At           time.Time
}

// Allows reports whether v lets its holder see r, given the consents of r's person.
// Backends that filter in Go call it; SQL backends must agree with it (storagetest
// checks).
func (v Visibility) Allows(r referral.Referral, consents []referral.Consent) bool {
	if !v.Organization.IsZero() && r.Sender == v.Organization {
		return true
	}
	if Unsent(r) {
		return false
	}
	if !v.Person.IsZero() && r.Person == v.Person {
		return true
	}
	if v.Organization.IsZero() {
		return false
	}
	if r.Receiver == v.Organization {
		return true
	}
	for _, c := range consents {
		if c.Person == r.Person && c.Network == r.Network && c.Permits(v.Organization, referral.ScopeView, v.At) {
			return true
		}
	}
	return false
}

// Unsent reports whether r never left its sender: a draft, or a draft withdrawn
// (cancelled or entered in error) before it was sent, which the zero Sent time
// tells. Every other status is reachable only by sending, so a referral in one
// counts as sent whatever its Sent field says. A draft needs no consent, so
// what an unsent referral says about its person has been shared with nobody.
func Unsent(r referral.Referral) bool {
	switch r.Status {
	case referral.StatusDraft:
		return true
	case referral.StatusCancelled, referral.StatusEnteredInError:
		return r.Sent.IsZero()
	}
	return false
}

// Limit returns the effective page size for a requested limit, or ErrInvalid.
func Limit(requested int) (int, error) {
	switch {
	case requested == 0:
		return DefaultLimit, nil
	case requested < 0 || requested > MaxLimit:
		return 0, referral.Invalid("limit", "must be between 0 and 1000")
	}
	return requested, nil
}

// DirectoryFeed is implemented by stores that keep the directory in the store
// for every process: each write to a network's directory (PutOrganization,
// PutService, DeleteService, and the capacity writes below) appends a
// DirectoryChange to the network's directory feed, atomically with the write,
// so a follower (package directory keeps a matching index current this way)
// that applies the feed in order holds what the store holds. Every backend in
// refkit implements it; storagetest checks it.
//
// The feed has the referral feed's cursor semantics (see Referrals.Feed):
// positions are strictly increasing within a network, not necessarily
// contiguous, and a change appended after a reader saw position p always gets
// a position above p, so a follower that resumes after its last position
// never misses one. A write that fails appends nothing. Positions of the
// directory feed and of the referral feed are unrelated.
type DirectoryFeed interface {
	// SetCapacity replaces the published capacity of a service (nil stops
	// tracking it), leaving the rest of the record as it is, and appends a
	// ChangeCapacity change carrying the new capacity: publishing slot counts
	// is the directory's most frequent write, and followers apply it without
	// reading the service. It checks, in this order: the ids are set and the
	// capacity is valid (ErrInvalid, see CheckCapacity); the service exists in
	// the network (ErrNotFound).
	SetCapacity(ctx context.Context, network, service referral.ID, c *referral.Capacity) error
	// AdjustCapacity moves a service's Available by a.Delta, once per cause:
	// it does nothing and returns false when the network's capacity cursor is
	// at or above a.Cause already, so a retried adjustment, or the same one
	// made by a second process following the same referral feed, happens
	// once. Otherwise it sets the cursor to a.Cause and, when the service
	// tracks capacity, moves Available by Delta within [0, Maximum] (no upper
	// bound when Maximum is 0), sets the capacity's Updated to a.At when
	// a.At is set, appends a ChangeCapacity change and returns true; a service
	// that tracks no capacity is left as it is (false). It checks, in this
	// order: the adjustment is well-formed (ErrInvalid, see
	// CheckCapacityAdjustment); the network exists and then the service
	// exists in it (ErrNotFound, and the cursor stays where it was).
	AdjustCapacity(ctx context.Context, a CapacityAdjustment) (bool, error)
	// CapacityCursor returns the highest Cause AdjustCapacity has taken in the
	// network (0 before the first): where a follower of the referral feed
	// that adjusts capacity resumes. An unknown network is ErrNotFound.
	CapacityCursor(ctx context.Context, network referral.ID) (int64, error)
	// DirectoryChanges returns the network's changes with Position above
	// q.After, in Position order, at most q.Limit of them (see
	// CheckDirectoryQuery). An unknown network has none.
	DirectoryChanges(ctx context.Context, q DirectoryQuery) ([]DirectoryChange, error)
	// DirectoryHead returns the position of the network's last change (0
	// before the first), or ErrNotFound for an unknown network. A follower
	// that reads the head, then the records, then the changes after the head
	// holds what the store holds: a write the records did not show has a
	// change above the head.
	DirectoryHead(ctx context.Context, network referral.ID) (int64, error)
	// DirectoryChanged is FeedNotifier.FeedChanged for the directory feed,
	// with the same contract and the same delays for changes made elsewhere:
	// a channel closed after the first append to the network's directory feed
	// that follows the call, whoever made it, or when the store closes.
	DirectoryChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error)
}

// DirectoryBatch is implemented by stores that write many directory records in
// one atomic write: what makes loading a large directory fast where each
// commit waits for the disk or the server (package directory's Load uses it
// when the store has it). Every refkit backend implements it.
type DirectoryBatch interface {
	// PutDirectory writes the organizations, then the services, as
	// PutOrganization and PutService would one after the other, and appends
	// their changes to the directory feed in that order, all in one atomic
	// write: every record is written, or none. A service's organization may
	// be among the organizations written. It checks the batch is well-formed
	// (ErrInvalid, see CheckDirectoryBatch) and the network exists
	// (ErrNotFound), then each record as PutOrganization or PutService would,
	// in the order given (ErrNotFound, ErrConflict): the first failure fails
	// the whole write.
	PutDirectory(ctx context.Context, orgs []referral.Organization, services []referral.Service) error
}

// ChangeKind says what a DirectoryChange records.
type ChangeKind string

// Kinds of directory change.
const (
	// ChangeOrganization: an organization was created or replaced.
	ChangeOrganization ChangeKind = "organization"
	// ChangeService: a service was created or replaced, its locations and
	// capacity with it.
	ChangeService ChangeKind = "service"
	// ChangeServiceDeleted: a service was deleted.
	ChangeServiceDeleted ChangeKind = "service-deleted"
	// ChangeCapacity: only a service's capacity changed (SetCapacity,
	// AdjustCapacity); the change carries the new capacity.
	ChangeCapacity ChangeKind = "capacity"
)

// DirectoryChange is one entry of a network's directory feed. It names what
// changed, not what it changed to (but for capacity): a follower reads the
// record as it is when it applies the change, and a later change to the same
// record follows in the feed.
type DirectoryChange struct {
	// Position is the change's place in its network's directory feed,
	// assigned by the store.
	Position int64       `json:"position"`
	Network  referral.ID `json:"network_id"`
	Kind     ChangeKind  `json:"kind"`
	// Organization is the organization written, or the organization of the
	// service written, deleted or whose capacity changed.
	Organization referral.ID `json:"organization_id"`
	// Service is the service written, deleted or whose capacity changed; zero
	// for an organization.
	Service referral.ID `json:"service_id,omitzero"`
	// Capacity is the service's capacity after a ChangeCapacity (nil: it no
	// longer tracks capacity); nil for other kinds.
	Capacity *referral.Capacity `json:"capacity,omitempty"`
}

// DirectoryQuery selects changes from a network's directory feed.
type DirectoryQuery struct {
	Network referral.ID
	// After is the last position the reader has seen; 0 reads from the start.
	After int64
	// Limit: 0 means DefaultLimit; above MaxLimit or negative is ErrInvalid.
	Limit int
}

// CapacityAdjustment is one AdjustCapacity call: a place taken or freed
// because of a referral event.
type CapacityAdjustment struct {
	Network referral.ID
	Service referral.ID
	// Delta is added to the service's Available: -1 takes a place, +1 frees
	// one. It must not be zero, and at most MaxCapacityDelta either way.
	Delta int
	// Cause is the position, in the network's referral feed, of the event that
	// caused the adjustment: positive, and above the cause of every earlier
	// adjustment in the network (AdjustCapacity does nothing otherwise).
	Cause int64
	// At, when set, becomes the capacity's Updated time: when the figure was
	// last published, as the caller's clock has it.
	At time.Time
}

// MaxCapacityDelta bounds CapacityAdjustment.Delta either way.
const MaxCapacityDelta = 1_000_000
