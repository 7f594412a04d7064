package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// A referral write is one statement, so one round trip and one commit: the
// referral row changes (conditioned on what the caller read), the network's feed
// head is incremented, and the event is inserted at the new position, all in the
// statement's implicit transaction. If the referral part writes nothing, neither
// do the others, and a second query tells the caller why. See doc.go for why the
// feed head makes positions safe for followers.
//
// The referral part also requires every screening its needs cite (the array
// parameter, empty when none) to be one of its person's in its network.

const (
	feedHeadSQL = `
	h AS (
		UPDATE feed_heads SET position = position + 1
		WHERE network_id = (SELECT network_id FROM r)
		RETURNING position
	)`

	createReferralCTE = `
	WITH r AS (
		INSERT INTO referrals (id, network_id, sender_id, receiver_id, person_id, status, created,
			next_deadline, version, idempotency_key, doc)
		SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid, $6::text, $7::timestamptz,
			$8::timestamptz, $9::bigint, $10::text, $11::jsonb
		WHERE EXISTS (SELECT 1 FROM networks WHERE id = $2::uuid)
		  AND ` + ownScreeningsCreate + `
		ON CONFLICT DO NOTHING
		RETURNING network_id
	),` + feedHeadSQL + `,
	e AS (
		INSERT INTO events (network_id, position, referral_id, sequence, doc)
		SELECT $2::uuid, position, $1::uuid, 1, $12::jsonb FROM h
		RETURNING position
	)`
	createReferralSQL       = createReferralCTE + ` SELECT position FROM e`
	createReferralNotifySQL = createReferralCTE + ` SELECT position, pg_notify($14::text, $15::text) FROM e`

	updateReferralCTE = `
	WITH r AS (
		UPDATE referrals SET sender_id = $3::uuid, receiver_id = $4::uuid, person_id = $5::uuid,
			status = $6::text, created = $7::timestamptz, next_deadline = $8::timestamptz,
			version = $9::bigint, idempotency_key = $10::text, doc = $11::jsonb
		WHERE id = $1::uuid AND network_id = $2::uuid AND version = $12::bigint AND status = $13::text
		  AND ` + ownScreeningsUpdate + `
		RETURNING network_id
	),` + feedHeadSQL + `,
	e AS (
		INSERT INTO events (network_id, position, referral_id, sequence, doc)
		SELECT $2::uuid, position, $1::uuid, $9::bigint, $14::jsonb FROM h
		RETURNING position
	)`
	updateReferralSQL       = updateReferralCTE + ` SELECT position FROM e`
	updateReferralNotifySQL = updateReferralCTE + ` SELECT position, pg_notify($16::text, $17::text) FROM e`
)

// The screening check with its array parameter: $13 in a create, $15 in an
// update.
const (
	ownScreeningsCreate = `NOT EXISTS (
			SELECT 1 FROM unnest($13::uuid[]) AS cited(id)
			WHERE NOT EXISTS (SELECT 1 FROM screenings sc
				WHERE sc.id = cited.id AND sc.network_id = $2::uuid AND sc.person_id = $5::uuid))`
	ownScreeningsUpdate = `NOT EXISTS (
			SELECT 1 FROM unnest($15::uuid[]) AS cited(id)
			WHERE NOT EXISTS (SELECT 1 FROM screenings sc
				WHERE sc.id = cited.id AND sc.network_id = $2::uuid AND sc.person_id = $5::uuid))`
)

// cited returns the screenings r's needs cite, as the array parameter of the
// screening check: empty, not nil, when there are none.
func cited(r referral.Referral) [][16]byte {
	out := make([][16]byte, 0, len(r.Needs))
	for _, n := range r.Needs {
		if !n.Screening.IsZero() {
			out = append(out, uid(n.Screening))
		}
	}
	return out
}

// whyScreenings finds the first need of r that cites a screening other than
// one of r's person's in r's network (storage.ForeignScreening), or returns nil.
func (s *Store) whyScreenings(ctx context.Context, q querier, r referral.Referral) error {
	for i, n := range r.Needs {
		if n.Screening.IsZero() {
			continue
		}
		var ok bool
		err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM screenings WHERE id = $1 AND network_id = $2 AND person_id = $3)`,
			uid(n.Screening), uid(r.Network), uid(r.Person)).Scan(&ok)
		if err != nil {
			return err
		}
		if !ok {
			return storage.ForeignScreening(i)
		}
	}
	return nil
}

// referralArgs are the column values shared by create and update, $1 to $11.
func referralArgs(r referral.Referral, doc []byte) []any {
	return []any{
		uid(r.ID), uid(r.Network), uid(r.Sender), uid(r.Receiver), uid(r.Person), string(r.Status),
		r.Created, nullTime(r.NextDeadline), r.Version, nullText(r.IdempotencyKey), doc,
	}
}

// eventDoc encodes e without its position, which lives in its own column.
func eventDoc(e referral.Event) ([]byte, error) {
	e.Position = 0
	return encode("event", e)
}

// appended runs a referral write statement that returns the new event's
// position, or ok false when it wrote nothing.
func (s *Store) appended(ctx context.Context, q querier, sql string, args []any, network referral.ID) (pos int64, ok bool, err error) {
	if !s.opts.NoNotify {
		args = append(args, s.channel, network.String()+" "+s.token)
	}
	dest := []any{&pos}
	if !s.opts.NoNotify {
		dest = append(dest, nil)
	}
	err = q.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return pos, err == nil, err
}

// CreateReferral stores a new referral (Version 1) and its first event, or
// returns the referral an earlier call created with the same idempotency key.
func (s *Store) CreateReferral(ctx context.Context, r referral.Referral, e referral.Event) (_ referral.Referral, _ bool, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpCreateReferral)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return referral.Referral{}, false, err
	}
	if err := storage.CheckCreate(r, e); err != nil {
		return referral.Referral{}, false, err
	}
	doc, err := encode("referral", r)
	if err != nil {
		return referral.Referral{}, false, err
	}
	evDoc, err := eventDoc(e)
	if err != nil {
		return referral.Referral{}, false, err
	}
	args := append(referralArgs(r, doc), evDoc, cited(r))
	var (
		stored  referral.Referral
		created bool
	)
	err = s.write(ctx, "create referral", func(q querier, again bool) error {
		_, ok, err := s.appended(ctx, q, s.createSQL, args, r.Network)
		if err != nil {
			return err
		}
		if ok {
			stored, created = r.Clone(), true
			return nil
		}
		stored, created = referral.Referral{}, false
		if again {
			// An interrupted attempt may have stored the referral. Its id is
			// this call's alone (the lifecycle mints a fresh one per create),
			// so finding it means that attempt committed: the create is done,
			// once.
			var exists bool
			if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM referrals WHERE id = $1 AND network_id = $2)`,
				uid(r.ID), uid(r.Network)).Scan(&exists); err != nil {
				return err
			}
			if exists {
				stored, created = r.Clone(), true
				return nil
			}
		}
		return s.whyNotCreated(ctx, q, r, &stored)
	})
	if err != nil {
		return referral.Referral{}, false, err
	}
	if created {
		s.notify.wake(r.Network)
	}
	return stored, created, nil
}

// whyNotCreated explains a create that wrote nothing, in the order the storage
// contract checks: an unknown network, an idempotent retry (first is set to the
// referral the key names), a need citing a screening that is not the person's,
// or a taken id.
func (s *Store) whyNotCreated(ctx context.Context, q querier, r referral.Referral, first *referral.Referral) error {
	var exists bool
	if err := q.QueryRow(ctx, networkExists, uid(r.Network)).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return notFound("network", r.Network)
	}
	if r.IdempotencyKey != "" {
		var doc []byte
		err := q.QueryRow(ctx, `SELECT doc FROM referrals WHERE network_id = $1 AND sender_id = $2 AND idempotency_key = $3`,
			uid(r.Network), uid(r.Sender), r.IdempotencyKey).Scan(&doc)
		if err == nil {
			*first, err = decode[referral.Referral]("referral", doc)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	if err := s.whyScreenings(ctx, q, r); err != nil {
		return err
	}
	return conflict("referral", r.ID, "already exists")
}

// GetReferral returns the referral, or ErrNotFound.
func (s *Store) GetReferral(ctx context.Context, network, id referral.ID) (_ referral.Referral, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetReferral)
	defer obs.End(ctx, &err)
	return getDoc[referral.Referral](ctx, s, "referral", id,
		`SELECT doc FROM referrals WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// UpdateReferral replaces the referral and appends e in one statement, if the
// stored version is r.Version-1 and its status e.From.
func (s *Store) UpdateReferral(ctx context.Context, r referral.Referral, e referral.Event) (_ referral.Event, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpUpdateReferral)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return referral.Event{}, err
	}
	if err := storage.CheckUpdate(r, e); err != nil {
		return referral.Event{}, err
	}
	doc, err := encode("referral", r)
	if err != nil {
		return referral.Event{}, err
	}
	evDoc, err := eventDoc(e)
	if err != nil {
		return referral.Event{}, err
	}
	args := append(referralArgs(r, doc), r.Version-1, string(e.From), evDoc, cited(r))
	err = s.write(ctx, "update referral", func(q querier, again bool) error {
		pos, ok, err := s.appended(ctx, q, s.updateSQL, args, r.Network)
		if err != nil {
			return err
		}
		if ok {
			e.Position = pos
			return nil
		}
		if again {
			// The version no longer matches: perhaps because the interrupted
			// attempt committed. Its event is then the referral's event at
			// the new version, exactly as this call wrote it.
			pos, landed, err := s.landed(ctx, q, r, evDoc)
			if err != nil || landed {
				e.Position = pos
				return err
			}
		}
		return s.whyNotUpdated(ctx, q, r, e)
	})
	if err != nil {
		return referral.Event{}, err
	}
	s.notify.wake(r.Network)
	e.At = e.At.Round(0)
	return e, nil
}

// whyNotUpdated explains an update that wrote nothing, in the order the
// storage contract checks: existence, version, then the event's From.
func (s *Store) whyNotUpdated(ctx context.Context, q querier, r referral.Referral, e referral.Event) error {
	var (
		version int64
		status  string
	)
	err := q.QueryRow(ctx, `SELECT version, status FROM referrals WHERE id = $1 AND network_id = $2`,
		uid(r.ID), uid(r.Network)).Scan(&version, &status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return notFound("referral", r.ID)
	case err != nil:
		return err
	case version != r.Version-1:
		return conflict("referral", r.ID, "changed since it was read")
	case status != string(e.From):
		return referral.Invalid("event.from", "must be the stored status")
	}
	if err := s.whyScreenings(ctx, q, r); err != nil {
		return err
	}
	// The referral matched when read again: it changed and changed back between
	// the two statements, which is a lost race all the same.
	return conflict("referral", r.ID, "changed since it was read")
}

// landed reports whether r's event (evDoc, its document without the
// position) is stored at r.Version, and its position if so: whether an
// interrupted UpdateReferral committed.
func (s *Store) landed(ctx context.Context, q querier, r referral.Referral, evDoc []byte) (int64, bool, error) {
	var (
		pos  int64
		same bool
	)
	err := q.QueryRow(ctx, `SELECT position, doc = $4::jsonb FROM events WHERE referral_id = $1 AND network_id = $2 AND sequence = $3`,
		uid(r.ID), uid(r.Network), r.Version, evDoc).Scan(&pos, &same)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return pos, same, nil
}

// query builds a SELECT from fixed fragments; every value goes in as a
// parameter.
type query struct {
	sql  strings.Builder
	args []any
}

// arg adds a parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// visible adds the storage.Visibility rule on the referral aliased r: its
// sender; or, once it has been sent (see storage.Unsent), its person's
// delegate, its receiver, or an organization the person gave a view consent
// active at v.At. It returns false when v lets nobody see anything.
func (q *query) visible(v *storage.Visibility) bool {
	var sender string
	var others []string
	if !v.Person.IsZero() {
		others = append(others, "r.person_id = "+q.arg(uid(v.Person))+"::uuid")
	}
	if !v.Organization.IsZero() {
		org := q.arg(uid(v.Organization)) + "::uuid"
		at := q.arg(v.At) + "::timestamptz"
		sender = "r.sender_id = " + org + " OR "
		others = append(others,
			"r.receiver_id = "+org,
			`EXISTS (SELECT 1 FROM consents c
				WHERE c.person_id = r.person_id AND c.network_id = r.network_id AND c.grantee_id = `+org+`
				  AND c.scope = `+q.arg(string(referral.ScopeView))+`::text
				  AND (c.period_start IS NULL OR c.period_start <= `+at+`)
				  AND (c.period_end IS NULL OR `+at+` < c.period_end)
				  AND (c.revoked IS NULL OR `+at+` < c.revoked))`)
	}
	if len(others) == 0 {
		return false
	}
	// An unsent referral is a draft, or a draft withdrawn before it was sent
	// (no sent time in its document).
	unsent := "(r.status = " + q.arg(string(referral.StatusDraft)) + "::text OR (r.status = ANY(" +
		q.arg([]string{string(referral.StatusCancelled), string(referral.StatusEnteredInError)}) +
		"::text[]) AND r.doc->'sent' IS NULL))"
	q.sql.WriteString(" AND (" + sender + "(NOT " + unsent + " AND (" + strings.Join(others, " OR ") + ")))")
	return true
}

// ListReferrals pages through referrals matching q, in id order.
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
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	var b query
	b.sql.WriteString("SELECT r.doc FROM referrals r WHERE r.network_id = " + b.arg(uid(q.Network)) + "::uuid")
	b.sql.WriteString(" AND r.id > " + b.arg(uid(q.Page.After)) + "::uuid")
	for _, f := range []struct {
		column string
		id     referral.ID
	}{{"sender_id", q.Sender}, {"receiver_id", q.Receiver}, {"person_id", q.Person}} {
		if !f.id.IsZero() {
			b.sql.WriteString(" AND r." + f.column + " = " + b.arg(uid(f.id)) + "::uuid")
		}
	}
	if len(statuses) > 0 {
		b.sql.WriteString(" AND r.status = ANY(" + b.arg(statuses) + "::text[])")
	}
	if !q.CreatedFrom.IsZero() {
		b.sql.WriteString(" AND r.created >= " + b.arg(q.CreatedFrom) + "::timestamptz")
	}
	if !q.CreatedTo.IsZero() {
		b.sql.WriteString(" AND r.created < " + b.arg(q.CreatedTo) + "::timestamptz")
	}
	if q.Visible != nil && !b.visible(q.Visible) {
		return nil, referral.NilID, nil
	}
	b.sql.WriteString(" ORDER BY r.id LIMIT " + b.arg(limit+1))
	out, err = listDocs[referral.Referral](ctx, s, "referral", b.sql.String(), b.args...)
	if err != nil {
		return nil, referral.NilID, err
	}
	if len(out) > limit {
		out = out[:limit]
		return out, out[limit-1].ID, nil
	}
	return out, referral.NilID, nil
}

// ReferralEvents returns the referral's events in sequence order, or
// ErrNotFound: a stored referral always has at least its created event.
func (s *Store) ReferralEvents(ctx context.Context, network, id referral.ID) (out []referral.Event, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpReferralEvents)
	defer endList(ctx, &obs, &err, &out)
	out, err = s.events(ctx, "referral events",
		`SELECT position, doc FROM events WHERE referral_id = $1 AND network_id = $2 ORDER BY sequence`,
		uid(id), uid(network))
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, s.fail("referral events", notFound("referral", id))
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
	var b query
	b.sql.WriteString("SELECT e.position, e.doc FROM events e")
	if q.Visible != nil {
		b.sql.WriteString(" JOIN referrals r ON r.id = e.referral_id")
	}
	b.sql.WriteString(" WHERE e.network_id = " + b.arg(uid(q.Network)) + "::uuid AND e.position > " + b.arg(q.After) + "::bigint")
	if q.Visible != nil && !b.visible(q.Visible) {
		return nil, nil
	}
	b.sql.WriteString(" ORDER BY e.position LIMIT " + b.arg(limit))
	return s.events(ctx, "feed", b.sql.String(), b.args...)
}

// events reads (position, doc) rows as events.
func (s *Store) events(ctx context.Context, op, sql string, args ...any) ([]referral.Event, error) {
	var out []referral.Event
	err := s.call(ctx, op, func(q querier) error {
		out = nil
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			pos int64
			doc []byte
		)
		for rows.Next() {
			if err := rows.Scan(&pos, &doc); err != nil {
				return err
			}
			e, err := decode[referral.Event]("event", doc)
			if err != nil {
				return err
			}
			e.Position = pos
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DueReferrals returns up to limit referrals, from every network, whose
// NextDeadline is set and not after now, earliest first (ties by id).
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
	return listDocs[referral.Referral](ctx, s, "referral",
		`SELECT doc FROM referrals WHERE next_deadline IS NOT NULL AND next_deadline <= $1
		 ORDER BY next_deadline, id LIMIT $2`, now, limit)
}
