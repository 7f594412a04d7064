package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// The directory feed (storage.DirectoryFeed): every directory write appends a
// row to directory_changes inside its own transaction, so the change commits
// with the write or not at all (see migrations/0002_directory_feed.sql). A
// write through this Store wakes its directory followers as it returns; one
// another process commits wakes them within Options.PollInterval, through a
// head watch like the referral feed's (see notify.go).

// putDirectory is put for a write that appends to network's directory feed:
// it wakes the network's directory followers once the write has committed.
func (s *Store) putDirectory(ctx context.Context, op string, validate func() error, apply func(tx *sql.Tx) error, network referral.ID) error {
	if err := s.put(ctx, op, validate, apply); err != nil {
		return err
	}
	s.directory.notify(network)
	return nil
}

// appendChange appends c to its network's directory feed inside tx.
func (s *Store) appendChange(ctx context.Context, tx *sql.Tx, c storage.DirectoryChange) error {
	var capacity sql.NullString
	if c.Capacity != nil {
		data, err := encode(c.Capacity)
		if err != nil {
			return err
		}
		capacity = sql.NullString{String: data, Valid: true}
	}
	_, err := s.txExec(ctx, tx, qAppendChange, blob(c.Network), string(c.Kind), blob(c.Organization), optionalID(c.Service), capacity)
	return err
}

// serviceIn reads service id of network inside tx, or returns ErrNotFound.
func (s *Store) serviceIn(ctx context.Context, tx *sql.Tx, network, id referral.ID) (referral.Service, error) {
	var (
		data string
		svc  referral.Service
	)
	err := s.txRow(ctx, tx, qServiceRecord, blob(id), blob(network)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return svc, notFound("service", id)
	}
	if err != nil {
		return svc, err
	}
	return svc, decode(data, &svc)
}

// writeCapacity stores svc with capacity c and appends the capacity change,
// inside tx.
func (s *Store) writeCapacity(ctx context.Context, tx *sql.Tx, svc referral.Service, c *referral.Capacity) error {
	svc.Capacity = c
	data, err := encode(svc)
	if err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, qSetServiceData, data, blob(svc.ID)); err != nil {
		return err
	}
	return s.appendChange(ctx, tx, storage.DirectoryChange{
		Network: svc.Network, Kind: storage.ChangeCapacity, Organization: svc.Organization, Service: svc.ID, Capacity: c})
}

// SetCapacity replaces a service's capacity and records the change.
func (s *Store) SetCapacity(ctx context.Context, network, service referral.ID, c *referral.Capacity) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpSetCapacity)
	defer obs.End(ctx, &err)
	validate := func() error { return storage.CheckCapacity(network, service, c) }
	return s.putDirectory(ctx, "set capacity", validate, func(tx *sql.Tx) error {
		svc, err := s.serviceIn(ctx, tx, network, service)
		if err != nil {
			return err
		}
		return s.writeCapacity(ctx, tx, svc, c)
	}, network)
}

// AdjustCapacity moves a service's available places once per cause.
func (s *Store) AdjustCapacity(ctx context.Context, a storage.CapacityAdjustment) (_ bool, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpAdjustCapacity)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return false, err
	}
	if err := storage.CheckCapacityAdjustment(a); err != nil {
		return false, err
	}
	applied := false
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.exists(ctx, tx, networks, a.Network, a.Network); err != nil {
			return err
		}
		svc, err := s.serviceIn(ctx, tx, a.Network, a.Service)
		if err != nil {
			return err
		}
		var cause int64
		if err := s.txRow(ctx, tx, qCapacityCause, blob(a.Network)).Scan(&cause); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if a.Cause <= cause {
			return nil
		}
		if _, err := s.txExec(ctx, tx, qSetCause, blob(a.Network), a.Cause); err != nil {
			return err
		}
		if svc.Capacity == nil {
			return nil
		}
		c := *svc.Capacity
		c.Available = adjusted(c.Available, a.Delta, c.Maximum)
		if !a.At.IsZero() {
			c.Updated = a.At
		}
		applied = true
		return s.writeCapacity(ctx, tx, svc, &c)
	})
	if err != nil {
		return false, s.failed("adjust capacity", err)
	}
	if applied {
		s.directory.notify(a.Network)
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
	if err := s.live(ctx); err != nil {
		return 0, err
	}
	var cause int64
	err = s.queryRow(ctx, qCapacityCursor, blob(network), blob(network)).Scan(&cause)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("network", network)
	}
	if err != nil {
		return 0, s.failed("capacity cursor", err)
	}
	return cause, nil
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
	rows, err := s.query(ctx, qDirectoryChanges, blob(q.Network), q.After, limit)
	if err != nil {
		return nil, s.failed("directory changes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c             storage.DirectoryChange
			kind          string
			org, svc      []byte
			capacity      sql.NullString
			errOrg, errSv error
		)
		if err := rows.Scan(&c.Position, &kind, &org, &svc, &capacity); err != nil {
			return nil, s.failed("directory changes", err)
		}
		c.Network, c.Kind = q.Network, storage.ChangeKind(kind)
		c.Organization, errOrg = toID(org)
		c.Service, errSv = toOptionalID(svc)
		if err := errors.Join(errOrg, errSv); err != nil {
			return nil, err
		}
		if capacity.Valid {
			c.Capacity = new(referral.Capacity)
			if err := decode(capacity.String, c.Capacity); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.failed("directory changes", err)
	}
	return out, nil
}

// DirectoryChanged returns a channel closed at the network's next committed
// directory change (or when the store closes), implementing
// storage.DirectoryFeed: at once for a change through this Store, within
// Options.PollInterval for one another process or Store commits.
func (s *Store) DirectoryChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	return s.directory.channel(ctx, network)
}

// DirectoryHead returns the position of the network's last directory change.
func (s *Store) DirectoryHead(ctx context.Context, network referral.ID) (_ int64, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDirectoryHead)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return 0, err
	}
	var head int64
	err = s.queryRow(ctx, qDirectoryHead, blob(network), blob(network)).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("network", network)
	}
	if err != nil {
		return 0, s.failed("directory head", err)
	}
	return head, nil
}

// PutDirectory writes organizations then services, and their changes, in one
// transaction.
func (s *Store) PutDirectory(ctx context.Context, orgs []referral.Organization, services []referral.Service) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutDirectory)
	defer obs.End(ctx, &err)
	validate := func() error { return storage.CheckDirectoryBatch(orgs, services) }
	if len(orgs)+len(services) == 0 {
		if err := s.live(ctx); err != nil {
			return err
		}
		return validate()
	}
	network := batchNetwork(orgs, services)
	return s.putDirectory(ctx, "put directory", validate, func(tx *sql.Tx) error {
		if err := s.exists(ctx, tx, networks, network, network); err != nil {
			return err
		}
		for _, o := range orgs {
			if err := s.putOrganization(ctx, tx, o); err != nil {
				return err
			}
		}
		for _, svc := range services {
			if err := s.putService(ctx, tx, svc); err != nil {
				return err
			}
		}
		return nil
	}, network)
}

// batchNetwork is the network of a batch's records (CheckDirectoryBatch made them
// agree).
func batchNetwork(orgs []referral.Organization, services []referral.Service) referral.ID {
	if len(orgs) > 0 {
		return orgs[0].Network
	}
	return services[0].Network
}
