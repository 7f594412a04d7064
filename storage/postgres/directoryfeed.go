package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// The directory feed (storage.DirectoryFeed). Every directory write is one
// statement whose first CTE, w, writes the record and returns (network_id,
// organization_id, service_id, capacity); the rest, built by changeSQL,
// increments the network's directory head and appends the change at the new
// position, so the change commits with the write or not at all, and positions
// are handed out in commit order (the head row's lock is held to commit, as
// feed_heads' is for events: see doc.go). With NOTIFY on, the statement also
// notifies the directory channel, delivered at commit.

// changeSQL completes a directory write whose CTE w is given: $next is the
// change's kind, and with notify $next+1 the channel and $next+2 the payload.
// The statement returns the change's position, or no row when w wrote nothing.
func changeSQL(w string, next int, notify bool) string {
	kind := "$" + strconv.Itoa(next) + "::text"
	out := `
	WITH w AS (` + w + `),
	h AS (
		INSERT INTO directory_heads (network_id, position) SELECT network_id, 1 FROM w
		ON CONFLICT (network_id) DO UPDATE SET position = directory_heads.position + 1
		RETURNING position
	),
	c AS (
		INSERT INTO directory_changes (network_id, position, kind, organization_id, service_id, capacity)
		SELECT w.network_id, h.position, ` + kind + `, w.organization_id, w.service_id, w.capacity FROM w, h
		RETURNING position
	)
	SELECT position`
	if notify {
		out += `, pg_notify($` + strconv.Itoa(next+1) + `::text, $` + strconv.Itoa(next+2) + `::text)`
	}
	return out + ` FROM c`
}

// The record writes of the directory, as the w of changeSQL. Each writes
// only when what it references exists in its network, and replaces a record
// only within its own network; whyNot tells why one wrote nothing.
const (
	putOrganizationW = `
		INSERT INTO organizations (id, network_id, doc)
		SELECT $1::uuid, $2::uuid, $3::jsonb
		WHERE EXISTS (SELECT 1 FROM networks WHERE id = $2::uuid)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc
		WHERE organizations.network_id = excluded.network_id
		RETURNING network_id, id AS organization_id, NULL::uuid AS service_id, NULL::jsonb AS capacity`
	putServiceW = `
		INSERT INTO services (id, network_id, organization_id, doc)
		SELECT $1::uuid, $2::uuid, $3::uuid, $4::jsonb
		WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $3::uuid AND network_id = $2::uuid)
		ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, doc = excluded.doc
		WHERE services.network_id = excluded.network_id
		RETURNING network_id, organization_id, id AS service_id, NULL::jsonb AS capacity`
	deleteServiceW = `
		DELETE FROM services WHERE id = $1::uuid AND network_id = $2::uuid
		RETURNING network_id, organization_id, id AS service_id, NULL::jsonb AS capacity`
	// setCapacityW replaces the capacity inside the stored document; a NULL
	// capacity removes it, as encoding a service without one leaves it out.
	setCapacityW = `
		UPDATE services SET doc = CASE WHEN $3::jsonb IS NULL THEN doc - 'capacity'
			ELSE jsonb_set(doc, '{capacity}', $3::jsonb) END
		WHERE id = $1::uuid AND network_id = $2::uuid
		RETURNING network_id, organization_id, id AS service_id, $3::jsonb AS capacity`
)

// directoryWrite runs the directory write w with args (its own parameters,
// next-1 of them) for network, appending a change of kind. It returns false
// when w wrote nothing.
func (s *Store) directoryWrite(ctx context.Context, q rowQuerier, w string, args []any, kind storage.ChangeKind, network referral.ID) (bool, error) {
	sql, args := s.changeStatement(w, args, kind, network)
	var pos int64
	err := q.QueryRow(ctx, sql, args...).Scan(s.changeDest(&pos)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// changeStatement is the statement and arguments of a directory write.
func (s *Store) changeStatement(w string, args []any, kind storage.ChangeKind, network referral.ID) (string, []any) {
	notify := !s.opts.NoNotify
	args = append(args, string(kind))
	next := len(args)
	if notify {
		args = append(args, s.directoryChannel, network.String()+" "+s.token)
	}
	return changeSQL(w, next, notify), args
}

// changeDest is where a directory write's row is scanned: its position, and
// pg_notify's empty result when notifying.
func (s *Store) changeDest(pos *int64) []any {
	if s.opts.NoNotify {
		return []any{pos}
	}
	return []any{pos, nil}
}

// rowQuerier is what directoryWrite runs on: the pool, or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// batcher is a querier that pipelines statements (the pool's transactions);
// a test hook's wrapper does not, and its statements are sent one by one.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// inTx runs fn in one transaction: in portable mode every attempt already is
// one, otherwise a new one is begun on the pool (and passed through the test
// hook, as every attempt's querier is).
func (s *Store) inTx(ctx context.Context, q querier, fn func(tx querier) error) error {
	if s.opts.Portable {
		return fn(q)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(s.wrap(tx)) })
}

// capacityDoc is a capacity as the parameter of setCapacityW: nil is NULL.
func capacityDoc(c *referral.Capacity) (any, error) {
	if c == nil {
		return nil, nil
	}
	return encode("capacity", c)
}

// SetCapacity replaces a service's capacity and records the change.
func (s *Store) SetCapacity(ctx context.Context, network, service referral.ID, c *referral.Capacity) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpSetCapacity)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := storage.CheckCapacity(network, service, c); err != nil {
		return err
	}
	doc, err := capacityDoc(c)
	if err != nil {
		return err
	}
	err = s.call(ctx, "set capacity", func(q querier) error {
		ok, err := s.directoryWrite(ctx, q, setCapacityW, []any{uid(service), uid(network), doc}, storage.ChangeCapacity, network)
		if err == nil && !ok {
			return notFound("service", service)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.directory.wake(network)
	return nil
}

// AdjustCapacity moves a service's available places once per cause, in one
// transaction: it locks the service row, takes the cause through a
// conditional upsert of the network's cursor (which a second adjuster with the
// same cause waits for and then finds taken), and writes the capacity with its
// change.
func (s *Store) AdjustCapacity(ctx context.Context, a storage.CapacityAdjustment) (_ bool, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpAdjustCapacity)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return false, err
	}
	if err := storage.CheckCapacityAdjustment(a); err != nil {
		return false, err
	}
	var applied bool
	err = s.call(ctx, "adjust capacity", func(q querier) error {
		applied = false
		return s.inTx(ctx, q, func(tx querier) error {
			var exists bool
			if err := tx.QueryRow(ctx, networkExists, uid(a.Network)).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return notFound("network", a.Network)
			}
			var doc []byte
			err := tx.QueryRow(ctx, `SELECT doc FROM services WHERE id = $1 AND network_id = $2 FOR UPDATE`,
				uid(a.Service), uid(a.Network)).Scan(&doc)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("service", a.Service)
			}
			if err != nil {
				return err
			}
			svc, err := decode[referral.Service]("service", doc)
			if err != nil {
				return err
			}
			var taken int64
			err = tx.QueryRow(ctx, `
				INSERT INTO directory_cursors (network_id, capacity_cause) VALUES ($1, $2)
				ON CONFLICT (network_id) DO UPDATE SET capacity_cause = excluded.capacity_cause
				WHERE directory_cursors.capacity_cause < excluded.capacity_cause
				RETURNING capacity_cause`, uid(a.Network), a.Cause).Scan(&taken)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // taken already: by an earlier call, or a later cause
			}
			if err != nil || svc.Capacity == nil {
				return err
			}
			c := *svc.Capacity
			c.Available = adjusted(c.Available, a.Delta, c.Maximum)
			if !a.At.IsZero() {
				c.Updated = a.At
			}
			capDoc, err := capacityDoc(&c)
			if err != nil {
				return err
			}
			ok, err := s.directoryWrite(ctx, tx, setCapacityW, []any{uid(a.Service), uid(a.Network), capDoc}, storage.ChangeCapacity, a.Network)
			if err == nil && !ok {
				return notFound("service", a.Service) // the row is locked: not reached
			}
			applied = err == nil
			return err
		})
	})
	if err != nil {
		return false, err
	}
	if applied {
		s.directory.wake(a.Network)
	}
	return applied, nil
}

// adjusted is available moved by delta within [0, maximum]; a maximum of 0
// sets no upper bound.
func adjusted(available, delta, maximum int) int {
	v := available + delta
	if maximum > 0 && v > maximum {
		v = maximum
	}
	return max(v, 0)
}

// CapacityCursor returns the network's capacity cursor.
func (s *Store) CapacityCursor(ctx context.Context, network referral.ID) (_ int64, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpCapacityCursor)
	defer obs.End(ctx, &err)
	var cause int64
	err = s.call(ctx, "capacity cursor", func(q querier) error {
		err := q.QueryRow(ctx, `
			SELECT coalesce((SELECT capacity_cause FROM directory_cursors WHERE network_id = $1), 0)
			FROM networks WHERE id = $1`, uid(network)).Scan(&cause)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("network", network)
		}
		return err
	})
	return cause, err
}

// DirectoryChanges returns the network's directory changes after q.After.
func (s *Store) DirectoryChanges(ctx context.Context, q storage.DirectoryQuery) (out []storage.DirectoryChange, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDirectoryChanges)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	limit, err := storage.CheckDirectoryQuery(q)
	if err != nil {
		return nil, err
	}
	err = s.call(ctx, "directory changes", func(db querier) error {
		out = nil
		rows, err := db.Query(ctx, `
			SELECT position, kind, organization_id, service_id, capacity FROM directory_changes
			WHERE network_id = $1 AND position > $2 ORDER BY position LIMIT $3`, uid(q.Network), q.After, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c        storage.DirectoryChange
				kind     string
				org      [16]byte
				svc      *[16]byte
				capacity []byte
			)
			if err := rows.Scan(&c.Position, &kind, &org, &svc, &capacity); err != nil {
				return err
			}
			c.Network, c.Kind, c.Organization = q.Network, storage.ChangeKind(kind), referral.ID(org)
			if svc != nil {
				c.Service = referral.ID(*svc)
			}
			if capacity != nil {
				cp, err := decode[referral.Capacity]("capacity", capacity)
				if err != nil {
					return err
				}
				c.Capacity = &cp
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DirectoryChanged returns a channel closed at the network's next directory
// change (or when the store closes), implementing storage.DirectoryFeed, as
// FeedChanged does for the referral feed: at once for this Store's changes,
// by LISTEN/NOTIFY on the directory channel for other processes', or, with
// Options.NoNotify, after Options.PollInterval.
func (s *Store) DirectoryChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	var exists bool
	err := s.call(ctx, "directory changed", func(q querier) error {
		return q.QueryRow(ctx, networkExists, uid(network)).Scan(&exists)
	})
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, s.fail("directory changed", notFound("network", network))
	}
	ch, err := s.directory.channel(ctx, network)
	if err != nil {
		return nil, s.fail("listen for directory changes", err)
	}
	return ch, nil
}

// DirectoryHead returns the position of the network's last directory change:
// the committed value of its head row, which a change not yet committed has
// not moved for other transactions.
func (s *Store) DirectoryHead(ctx context.Context, network referral.ID) (_ int64, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDirectoryHead)
	defer obs.End(ctx, &err)
	var head int64
	err = s.call(ctx, "directory head", func(q querier) error {
		err := q.QueryRow(ctx, `
			SELECT coalesce((SELECT position FROM directory_heads WHERE network_id = $1), 0)
			FROM networks WHERE id = $1`, uid(network)).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("network", network)
		}
		return err
	})
	return head, err
}

// PutDirectory writes organizations then services, and their changes, in one
// transaction whose statements are sent in one pipeline: one round trip and
// one commit for the whole batch. The network's directory head is locked by
// the first change and held to the commit, so the batch's changes take
// consecutive positions.
func (s *Store) PutDirectory(ctx context.Context, orgs []referral.Organization, services []referral.Service) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutDirectory)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := storage.CheckDirectoryBatch(orgs, services); err != nil {
		return err
	}
	if len(orgs)+len(services) == 0 {
		return nil
	}
	network := batchNetwork(orgs, services)
	type statement struct {
		sql  string
		args []any
	}
	var stmts []statement
	inBatch := make(map[referral.ID]bool, len(orgs))
	for _, o := range orgs {
		doc, err := encode("organization", o)
		if err != nil {
			return err
		}
		sql, args := s.changeStatement(putOrganizationW, []any{uid(o.ID), uid(o.Network), doc}, storage.ChangeOrganization, network)
		stmts = append(stmts, statement{sql, args})
		inBatch[o.ID] = true
	}
	for _, svc := range services {
		doc, err := encode("service", svc)
		if err != nil {
			return err
		}
		sql, args := s.changeStatement(putServiceW, []any{uid(svc.ID), uid(svc.Network), uid(svc.Organization), doc}, storage.ChangeService, network)
		stmts = append(stmts, statement{sql, args})
	}
	err = s.call(ctx, "put directory", func(q querier) error {
		failed := -1
		err := s.inTx(ctx, q, func(tx querier) error {
			var exists bool
			if err := tx.QueryRow(ctx, networkExists, uid(network)).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return notFound("network", network)
			}
			rows := func(i int) pgx.Row { return tx.QueryRow(ctx, stmts[i].sql, stmts[i].args...) }
			var res pgx.BatchResults
			if p, ok := tx.(batcher); ok {
				b := &pgx.Batch{}
				for _, st := range stmts {
					b.Queue(st.sql, st.args...)
				}
				res = p.SendBatch(ctx, b)
				rows = func(int) pgx.Row { return res.QueryRow() }
			}
			for i := range stmts {
				var pos int64
				err := rows(i).Scan(s.changeDest(&pos)...)
				if errors.Is(err, pgx.ErrNoRows) {
					failed = i
					break
				}
				if err != nil {
					if res != nil {
						res.Close()
					}
					return err
				}
			}
			if res != nil {
				if err := res.Close(); err != nil {
					return err
				}
			}
			if failed >= 0 {
				return errBatchRecord
			}
			return nil
		})
		if !errors.Is(err, errBatchRecord) {
			return err
		}
		// The transaction rolled back; say why the record wrote nothing.
		if failed < len(orgs) {
			o := orgs[failed]
			return s.whyNot(ctx, q, "organization", o.ID, networkExists, uid(o.Network))
		}
		svc := services[failed-len(orgs)]
		if inBatch[svc.Organization] {
			return conflict("service", svc.ID, "is taken")
		}
		return s.whyNot(ctx, q, "service", svc.ID, organizationExists, uid(svc.Organization), uid(svc.Network))
	})
	if err != nil {
		return err
	}
	s.directory.wake(network)
	return nil
}

// errBatchRecord marks a batch one of whose records wrote nothing.
var errBatchRecord = errors.New("a record of the batch wrote nothing")

// batchNetwork is the network of a batch's records (CheckDirectoryBatch made
// them agree).
func batchNetwork(orgs []referral.Organization, services []referral.Service) referral.ID {
	if len(orgs) > 0 {
		return orgs[0].Network
	}
	return services[0].Network
}
