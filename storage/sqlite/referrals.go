package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// CreateReferral stores a new referral (Version 1) and its first event (Sequence
// 1) in one transaction. A repeated idempotency key returns the first referral
// and false.
func (s *Store) CreateReferral(ctx context.Context, r referral.Referral, e referral.Event) (_ referral.Referral, _ bool, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpCreateReferral)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return referral.Referral{}, false, err
	}
	if err := storage.CheckCreate(r, e); err != nil {
		return referral.Referral{}, false, err
	}
	data, err := encode(r)
	if err != nil {
		return referral.Referral{}, false, err
	}
	var (
		first   referral.Referral
		created bool
	)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.exists(ctx, tx, networks, r.Network, r.Network); err != nil {
			return err
		}
		if r.IdempotencyKey != "" {
			var stored string
			err := s.txRow(ctx, tx, qByIdempotencyKey, blob(r.Network), blob(r.Sender), r.IdempotencyKey).Scan(&stored)
			if err == nil {
				return decode(stored, &first)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if err := s.ownScreenings(ctx, tx, r); err != nil {
			return err
		}
		// The primary key refuses an id already taken, in any network.
		_, err := s.txExec(ctx, tx, qInsertReferral,
			blob(r.ID), blob(r.Network), blob(r.Sender), blob(r.Receiver), blob(r.Person), string(r.Status),
			nanos(r.Created), nanos(r.NextDeadline), nullText(r.IdempotencyKey), r.Version, data)
		if isUnique(err) {
			return conflict("referral", r.ID, "already exists")
		}
		if err != nil {
			return err
		}
		if _, err := s.appendEvent(ctx, tx, e); err != nil {
			return err
		}
		first, created = r.Clone(), true
		return nil
	})
	if err != nil {
		return referral.Referral{}, false, s.failed("create referral", err)
	}
	if created {
		s.feed.notify(r.Network)
	}
	return first, created, nil
}

// ownScreenings checks, inside tx, that every screening r's needs cite is one
// of r's person's in r's network (storage.ForeignScreening).
func (s *Store) ownScreenings(ctx context.Context, tx *sql.Tx, r referral.Referral) error {
	for i, n := range r.Needs {
		if n.Screening.IsZero() || s.owners.holds(n.Screening, r.Network, r.Person) {
			continue
		}
		var person []byte
		err := s.txRow(ctx, tx, qScreeningPerson, blob(n.Screening), blob(r.Network)).Scan(&person)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return storage.ForeignScreening(i)
		case err != nil:
			return err
		case !bytes.Equal(person, blob(r.Person)):
			return storage.ForeignScreening(i)
		}
		s.owners.add(n.Screening, r.Network, r.Person)
	}
	return nil
}

// maxOwners bounds the owners cache; past it the cache starts again empty.
const maxOwners = 4096

// owners remembers whose screenings cited screenings are. Screenings are
// immutable and never deleted, so an owner once read stays right, in every
// process: a referral's later writes, which cite the same screenings, then
// check them without a query.
type owners struct {
	mu sync.Mutex
	m  map[referral.ID][2]referral.ID // screening → network, person
}

// holds reports whether the screening is known to be person's in network.
func (o *owners) holds(screening, network, person referral.ID) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[screening]
	return ok && v == [2]referral.ID{network, person}
}

// add records the screening's network and person.
func (o *owners) add(screening, network, person referral.ID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOwners {
		o.m = make(map[referral.ID][2]referral.ID)
	}
	o.m[screening] = [2]referral.ID{network, person}
}

// appendEvent inserts e and returns its feed position.
func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, e referral.Event) (int64, error) {
	at := e.At.UTC()
	res, err := s.txExec(ctx, tx, qInsertEvent,
		blob(e.Network), blob(e.Referral), e.Sequence, string(e.Type), optionalID(e.Actor.Organization),
		e.Actor.User, string(e.Actor.Role), optionalID(e.Actor.Person), at.Unix(), at.Nanosecond(),
		string(e.From), string(e.To), e.Reason, e.Note)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// GetReferral returns the referral, or ErrNotFound.
func (s *Store) GetReferral(ctx context.Context, network, id referral.ID) (_ referral.Referral, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetReferral)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return referral.Referral{}, err
	}
	var data string
	err = s.queryRow(ctx, qGetReferral, blob(id), blob(network)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return referral.Referral{}, notFound("referral", id)
	}
	if err != nil {
		return referral.Referral{}, s.failed("get referral", err)
	}
	var r referral.Referral
	return r, decode(data, &r)
}

// UpdateReferral replaces the referral and appends e in one transaction, if the
// stored version is r.Version-1.
func (s *Store) UpdateReferral(ctx context.Context, r referral.Referral, e referral.Event) (_ referral.Event, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpUpdateReferral)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return referral.Event{}, err
	}
	if err := storage.CheckUpdate(r, e); err != nil {
		return referral.Event{}, err
	}
	data, err := encode(r)
	if err != nil {
		return referral.Event{}, err
	}
	var pos int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The common case is one conditional UPDATE: the row is replaced only if
		// it still holds the version and status the caller read. The unique
		// index on idempotency keys refuses a key another referral holds.
		res, err := s.txExec(ctx, tx, qUpdateReferral,
			blob(r.Sender), blob(r.Receiver), blob(r.Person), string(r.Status), nanos(r.Created),
			nanos(r.NextDeadline), nullText(r.IdempotencyKey), r.Version, data,
			blob(r.ID), blob(r.Network), r.Version-1, string(e.From))
		if isUnique(err) {
			return conflict("referral", r.ID, "idempotency key is taken")
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return s.whyNotUpdated(ctx, tx, r, e)
		}
		if err := s.ownScreenings(ctx, tx, r); err != nil {
			return err
		}
		pos, err = s.appendEvent(ctx, tx, e)
		return err
	})
	if err != nil {
		return referral.Event{}, s.failed("update referral", err)
	}
	s.feed.notify(r.Network)
	e.Position = pos
	return e, nil
}

// whyNotUpdated finds, in the contract's order, why UpdateReferral's
// conditional update matched no row: no such referral in the network
// (ErrNotFound), another version (ErrConflict), or another status than the
// event's From (ErrInvalid).
func (s *Store) whyNotUpdated(ctx context.Context, tx *sql.Tx, r referral.Referral, e referral.Event) error {
	var (
		version int64
		status  string
	)
	err := s.txRow(ctx, tx, qReferralState, blob(r.ID), blob(r.Network)).Scan(&version, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound("referral", r.ID)
	case err != nil:
		return err
	case version != r.Version-1:
		return conflict("referral", r.ID, "changed since it was read")
	case e.From != referral.Status(status):
		return referral.Invalid("event.from", "must be the stored status")
	}
	return conflict("referral", r.ID, "changed while it was written")
}

// ListReferrals pages through the referrals matching q in id order.
func (s *Store) ListReferrals(ctx context.Context, q storage.ReferralQuery) (out []referral.Referral, _ referral.ID, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListReferrals)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.CheckReferralQuery(q)
	if err != nil {
		return nil, referral.NilID, err
	}
	var w where
	w.add("r.network_id = ?", blob(q.Network))
	w.add("r.id > ?", blob(q.Page.After))
	if !q.Sender.IsZero() {
		w.add("r.sender_id = ?", blob(q.Sender))
	}
	if !q.Receiver.IsZero() {
		w.add("r.receiver_id = ?", blob(q.Receiver))
	}
	if !q.Person.IsZero() {
		w.add("r.person_id = ?", blob(q.Person))
	}
	if len(q.Statuses) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Statuses)), ", ")
		args := make([]any, len(q.Statuses))
		for i, st := range q.Statuses {
			args[i] = string(st)
		}
		w.add("r.status IN ("+marks+")", args...)
	}
	if !q.CreatedFrom.IsZero() {
		w.add("r.created >= ?", nanos(q.CreatedFrom))
	}
	if !q.CreatedTo.IsZero() {
		w.add("r.created < ?", nanos(q.CreatedTo))
	}
	if q.Visible != nil {
		w.visible(*q.Visible)
	}
	from := `referrals r`
	if !q.Receiver.IsZero() && len(q.Statuses) > 0 {
		// A work queue: read each status's run of the receiver's referrals and
		// sort, rather than walk all the receiver's referrals in id order.
		from = `referrals r INDEXED BY referrals_by_receiver_status`
	}
	rows, err := s.read.QueryContext(ctx, `SELECT r.data FROM `+from+` WHERE `+w.sql()+` ORDER BY r.id LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, referral.NilID, s.failed("list referrals", err)
	}
	out, err = s.scanReferrals(rows, limit+1)
	if err != nil {
		return nil, referral.NilID, err
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].ID, nil
	}
	return out, referral.NilID, nil
}

// scanReferrals decodes the data column of up to n rows and closes rows.
func (s *Store) scanReferrals(rows *sql.Rows, n int) ([]referral.Referral, error) {
	defer rows.Close()
	out := make([]referral.Referral, 0, min(n, 64))
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, s.failed("read referrals", err)
		}
		var r referral.Referral
		if err := decode(data, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.failed("read referrals", err)
	}
	return out, nil
}

// where collects the conditions of a query, joined with AND. Conditions are
// constant text with placeholders; values travel only in args.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// unsent is storage.Unsent for the referral aliased r: a draft, or a draft
// withdrawn before it was sent (its document has no sent time).
const unsent = `(r.status = 'draft' OR (r.status IN ('cancelled', 'entered-in-error') AND json_extract(r.data, '$.sent') IS NULL))`

// visible adds storage.Visibility's rule for the referral aliased r: its
// sender; or, once it has been sent, its person's delegate, its receiver, or
// an organization the person gave a view consent active at v.At.
func (w *where) visible(v storage.Visibility) {
	var sender, others []string
	var senderArgs, otherArgs []any
	if !v.Person.IsZero() {
		others = append(others, "r.person_id = ?")
		otherArgs = append(otherArgs, blob(v.Person))
	}
	if !v.Organization.IsZero() {
		at := nanos(v.At)
		org := blob(v.Organization)
		sender = append(sender, `r.sender_id = ?`)
		senderArgs = append(senderArgs, org)
		others = append(others, `r.receiver_id = ?`,
			`EXISTS (SELECT 1 FROM consents c WHERE c.person_id = r.person_id AND c.network_id = r.network_id
				AND c.grantee_id = ? AND c.scope = 'view'
				AND (c.period_start IS NULL OR c.period_start <= ?)
				AND (c.period_end IS NULL OR ? < c.period_end)
				AND (c.revoked IS NULL OR ? < c.revoked))`)
		otherArgs = append(otherArgs, org, org, at, at, at)
	}
	if len(others) == 0 {
		w.conds = append(w.conds, "0")
		return
	}
	either := append(sender, "(NOT "+unsent+" AND ("+strings.Join(others, " OR ")+"))")
	w.conds = append(w.conds, "("+strings.Join(either, " OR ")+")")
	w.args = append(append(w.args, senderArgs...), otherArgs...)
}

// ReferralEvents returns the referral's events in sequence order.
func (s *Store) ReferralEvents(ctx context.Context, network, id referral.ID) (out []referral.Event, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpReferralEvents)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, qEvents, blob(id), blob(network))
	if err != nil {
		return nil, s.failed("referral events", err)
	}
	events, err := s.scanEvents(rows)
	if err != nil || len(events) > 0 {
		return events, err
	}
	// Every referral has its created event, so no events means no referral here.
	return nil, notFound("referral", id)
}

// scanEvents reads rows of eventColumns and closes rows.
func (s *Store) scanEvents(rows *sql.Rows) ([]referral.Event, error) {
	defer rows.Close()
	var out []referral.Event
	for rows.Next() {
		var (
			e                         referral.Event
			network, ref, org, person []byte
			typ, role, from, to       string
			sec, nsec                 int64
		)
		if err := rows.Scan(&e.Position, &network, &ref, &e.Sequence, &typ, &org, &e.Actor.User, &role,
			&person, &sec, &nsec, &from, &to, &e.Reason, &e.Note); err != nil {
			return nil, s.failed("read events", err)
		}
		var err error
		if e.Network, err = toID(network); err != nil {
			return nil, err
		}
		if e.Referral, err = toID(ref); err != nil {
			return nil, err
		}
		if e.Actor.Organization, err = toOptionalID(org); err != nil {
			return nil, err
		}
		if e.Actor.Person, err = toOptionalID(person); err != nil {
			return nil, err
		}
		e.Actor.Network = e.Network
		e.Type, e.Actor.Role = referral.EventType(typ), referral.Role(role)
		e.From, e.To = referral.Status(from), referral.Status(to)
		e.At = time.Unix(sec, nsec).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.failed("read events", err)
	}
	return out, nil
}

// Feed returns the network's events after position q.After, in position order.
func (s *Store) Feed(ctx context.Context, q storage.FeedQuery) (out []referral.Event, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpFeed)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	limit, err := storage.CheckFeed(q)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if q.Visible == nil {
		rows, err = s.query(ctx, qFeed, blob(q.Network), q.After, limit)
	} else {
		var w where
		w.add("e.network_id = ?", blob(q.Network))
		w.add("e.position > ?", q.After)
		w.visible(*q.Visible)
		rows, err = s.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events e
			JOIN referrals r ON r.id = e.referral_id WHERE `+w.sql()+` ORDER BY e.position LIMIT ?`,
			append(w.args, limit)...)
	}
	if err != nil {
		return nil, s.failed("feed", err)
	}
	return s.scanEvents(rows)
}

// DueReferrals returns up to limit referrals, from every network, whose deadline
// is not after now, earliest first (ties by id).
func (s *Store) DueReferrals(ctx context.Context, now time.Time, limit int) (out []referral.Referral, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDueReferrals)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	limit, err = storage.Limit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, qDueReferrals, nanos(now), limit)
	if err != nil {
		return nil, s.failed("due referrals", err)
	}
	out, err = s.scanReferrals(rows, limit)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}
