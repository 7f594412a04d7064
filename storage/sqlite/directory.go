package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// PutNetwork creates or replaces a network.
func (s *Store) PutNetwork(ctx context.Context, n referral.Network) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutNetwork)
	defer obs.End(ctx, &err)
	return s.put(ctx, "put network", n.Validate, func(tx *sql.Tx) error {
		data, err := encode(n)
		if err != nil {
			return err
		}
		_, err = s.txExec(ctx, tx, qPutNetwork, blob(n.ID), data)
		return err
	})
}

// GetNetwork returns the network, or ErrNotFound.
func (s *Store) GetNetwork(ctx context.Context, id referral.ID) (_ referral.Network, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetNetwork)
	defer obs.End(ctx, &err)
	var n referral.Network
	if err := s.live(ctx); err != nil {
		return n, err
	}
	var data string
	err = s.queryRow(ctx, qGetNetwork, blob(id)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return n, notFound("network", id)
	}
	if err != nil {
		return n, s.failed("get network", err)
	}
	return n, decode(data, &n)
}

// PutOrganization creates or replaces an organization in an existing network.
func (s *Store) PutOrganization(ctx context.Context, o referral.Organization) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutOrganization)
	defer obs.End(ctx, &err)
	return s.putDirectory(ctx, "put organization", o.Validate, func(tx *sql.Tx) error {
		return s.putOrganization(ctx, tx, o)
	}, o.Network)
}

// putOrganization writes o and its change inside tx.
func (s *Store) putOrganization(ctx context.Context, tx *sql.Tx, o referral.Organization) error {
	if err := s.claim(ctx, tx, organizations, o.Network, o.ID); err != nil {
		return err
	}
	data, err := encode(o)
	if err != nil {
		return err
	}
	if _, err = s.txExec(ctx, tx, qPutOrg, blob(o.ID), blob(o.Network), data); err != nil {
		return err
	}
	return s.appendChange(ctx, tx, storage.DirectoryChange{Network: o.Network, Kind: storage.ChangeOrganization, Organization: o.ID})
}

// GetOrganization returns the organization, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, network, id referral.ID) (_ referral.Organization, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetOrganization)
	defer obs.End(ctx, &err)
	var o referral.Organization
	return o, s.get(ctx, organizations, network, id, &o)
}

// ListOrganizations pages through a network's organizations in id order.
func (s *Store) ListOrganizations(ctx context.Context, network referral.ID, p storage.Page) (out []referral.Organization, _ referral.ID, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListOrganizations)
	defer endList(ctx, &obs, &err, &out)
	return list[referral.Organization](ctx, s, organizations, network, p)
}

// PutService creates or replaces a service of an organization in the same network.
func (s *Store) PutService(ctx context.Context, svc referral.Service) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutService)
	defer obs.End(ctx, &err)
	return s.putDirectory(ctx, "put service", svc.Validate, func(tx *sql.Tx) error {
		return s.putService(ctx, tx, svc)
	}, svc.Network)
}

// putService writes svc and its change inside tx.
func (s *Store) putService(ctx context.Context, tx *sql.Tx, svc referral.Service) error {
	if err := s.claim(ctx, tx, services, svc.Network, svc.ID); err != nil {
		return err
	}
	if err := s.exists(ctx, tx, organizations, svc.Network, svc.Organization); err != nil {
		return err
	}
	data, err := encode(svc)
	if err != nil {
		return err
	}
	if _, err = s.txExec(ctx, tx, qPutService, blob(svc.ID), blob(svc.Network), blob(svc.Organization), data); err != nil {
		return err
	}
	return s.appendChange(ctx, tx, storage.DirectoryChange{
		Network: svc.Network, Kind: storage.ChangeService, Organization: svc.Organization, Service: svc.ID})
}

// GetService returns the service, or ErrNotFound.
func (s *Store) GetService(ctx context.Context, network, id referral.ID) (_ referral.Service, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetService)
	defer obs.End(ctx, &err)
	var svc referral.Service
	return svc, s.get(ctx, services, network, id, &svc)
}

// ListServices pages through a network's services in id order.
func (s *Store) ListServices(ctx context.Context, network referral.ID, p storage.Page) (out []referral.Service, _ referral.ID, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListServices)
	defer endList(ctx, &obs, &err, &out)
	return list[referral.Service](ctx, s, services, network, p)
}

// DeleteService removes a service, or returns ErrNotFound.
func (s *Store) DeleteService(ctx context.Context, network, id referral.ID) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDeleteService)
	defer obs.End(ctx, &err)
	return s.putDirectory(ctx, "delete service", noInput, func(tx *sql.Tx) error {
		var raw []byte
		err := s.txRow(ctx, tx, qDeleteService, blob(id), blob(network)).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("service", id)
		}
		if err != nil {
			return err
		}
		org, err := toID(raw)
		if err != nil {
			return err
		}
		return s.appendChange(ctx, tx, storage.DirectoryChange{
			Network: network, Kind: storage.ChangeServiceDeleted, Organization: org, Service: id})
	}, network)
}

// PutPerson creates or replaces a person in an existing network.
func (s *Store) PutPerson(ctx context.Context, p referral.Person) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutPerson)
	defer obs.End(ctx, &err)
	return s.put(ctx, "put person", p.Validate, func(tx *sql.Tx) error {
		if err := s.claim(ctx, tx, persons, p.Network, p.ID); err != nil {
			return err
		}
		data, err := encode(p)
		if err != nil {
			return err
		}
		_, err = s.txExec(ctx, tx, qPutPerson, blob(p.ID), blob(p.Network), data)
		return err
	})
}

// GetPerson returns the person, or ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, network, id referral.ID) (_ referral.Person, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetPerson)
	defer obs.End(ctx, &err)
	var p referral.Person
	return p, s.get(ctx, persons, network, id, &p)
}

// PutConsent creates or replaces a consent; its person and grantee must exist in
// its network.
func (s *Store) PutConsent(ctx context.Context, c referral.Consent) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutConsent)
	defer obs.End(ctx, &err)
	return s.put(ctx, "put consent", c.Validate, func(tx *sql.Tx) error {
		if err := s.claim(ctx, tx, consents, c.Network, c.ID); err != nil {
			return err
		}
		if err := s.exists(ctx, tx, persons, c.Network, c.Person); err != nil {
			return err
		}
		if err := s.exists(ctx, tx, organizations, c.Network, c.Grantee); err != nil {
			return err
		}
		data, err := encode(c)
		if err != nil {
			return err
		}
		_, err = s.txExec(ctx, tx, qPutConsent,
			blob(c.ID), blob(c.Network), blob(c.Person), blob(c.Grantee), string(c.Scope),
			nanos(c.Period.Start), nanos(c.Period.End), nanos(c.Revoked), data)
		return err
	})
}

// GetConsent returns the consent, or ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, network, id referral.ID) (_ referral.Consent, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetConsent)
	defer obs.End(ctx, &err)
	var c referral.Consent
	return c, s.get(ctx, consents, network, id, &c)
}

// ListConsents returns the person's consents in id order; none for an unknown
// person.
func (s *Store) ListConsents(ctx context.Context, network, person referral.ID) (out []referral.Consent, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListConsents)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	return queryRecords[referral.Consent](ctx, s, qListConsents, blob(person), blob(network))
}

// PutScreening stores an immutable screening result of an existing person.
func (s *Store) PutScreening(ctx context.Context, sc referral.Screening) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutScreening)
	defer obs.End(ctx, &err)
	return s.put(ctx, "put screening", sc.Validate, func(tx *sql.Tx) error {
		var one int
		err := s.txRow(ctx, tx, qScreeningExists, blob(sc.ID)).Scan(&one)
		if err == nil {
			return conflict("screening", sc.ID, "already exists")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := s.exists(ctx, tx, persons, sc.Network, sc.Person); err != nil {
			return err
		}
		data, err := encode(sc)
		if err != nil {
			return err
		}
		_, err = s.txExec(ctx, tx, qPutScreening, blob(sc.ID), blob(sc.Network), blob(sc.Person), data)
		return err
	})
}

// GetScreening returns the screening, or ErrNotFound.
func (s *Store) GetScreening(ctx context.Context, network, id referral.ID) (_ referral.Screening, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetScreening)
	defer obs.End(ctx, &err)
	var sc referral.Screening
	return sc, s.get(ctx, screenings, network, id, &sc)
}

// ListScreenings returns the person's screenings in id order; none for an unknown
// person.
func (s *Store) ListScreenings(ctx context.Context, network, person referral.ID) (out []referral.Screening, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListScreenings)
	defer endList(ctx, &obs, &err, &out)
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	return queryRecords[referral.Screening](ctx, s, qListScreenings, blob(person), blob(network))
}

// noInput is the validation of a write that takes no record, only ids.
func noInput() error { return nil }

// put is a directory write, op in errors: the context and store are live, the
// input valid, then apply runs in one write transaction.
func (s *Store) put(ctx context.Context, op string, validate func() error, apply func(tx *sql.Tx) error) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	return s.failed(op, s.tx(ctx, apply))
}

// claim checks that a record id may be written in network: the network exists
// and the id is not taken in another network.
func (s *Store) claim(ctx context.Context, tx *sql.Tx, t table, network, id referral.ID) error {
	if err := s.exists(ctx, tx, networks, network, network); err != nil {
		return err
	}
	var owner []byte
	err := s.txRow(ctx, tx, t.owner, blob(id)).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case string(owner) != string(blob(network)):
		return conflict(t.kind, id, "belongs to another network")
	}
	return nil
}

// exists returns ErrNotFound unless record id of t exists in network. For the
// networks table network and id are the same.
func (s *Store) exists(ctx context.Context, tx *sql.Tx, t table, network, id referral.ID) error {
	var one int
	var err error
	if t.name == networks.name {
		err = s.txRow(ctx, tx, qNetworkExists, blob(id)).Scan(&one)
	} else {
		err = s.txRow(ctx, tx, t.exists, blob(id), blob(network)).Scan(&one)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(t.kind, id)
	}
	return err
}

// get reads record id of t in network into v, or returns ErrNotFound.
func (s *Store) get(ctx context.Context, t table, network, id referral.ID, v any) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	var data string
	err := s.queryRow(ctx, t.get, blob(id), blob(network)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(t.kind, id)
	}
	if err != nil {
		return s.failed("get "+t.kind, err)
	}
	return decode(data, v)
}

// list pages through the records of t in network, in id order. It fetches one
// row beyond the page, so the cursor is zero exactly when nothing follows.
func list[T any](ctx context.Context, s *Store, t table, network referral.ID, p storage.Page) ([]T, referral.ID, error) {
	if err := s.live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.CheckPage(network, p)
	if err != nil {
		return nil, referral.NilID, err
	}
	rows, err := s.query(ctx, t.list, blob(network), blob(p.After), limit+1)
	if err != nil {
		return nil, referral.NilID, s.failed("list "+t.kind, err)
	}
	defer rows.Close()
	var (
		out  []T
		last referral.ID
	)
	for rows.Next() {
		if len(out) == limit {
			return out, last, nil
		}
		var (
			raw  []byte
			data string
			v    T
		)
		if err := rows.Scan(&raw, &data); err != nil {
			return nil, referral.NilID, s.failed("list "+t.kind, err)
		}
		if last, err = toID(raw); err != nil {
			return nil, referral.NilID, err
		}
		if err := decode(data, &v); err != nil {
			return nil, referral.NilID, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, referral.NilID, s.failed("list "+t.kind, err)
	}
	return out, referral.NilID, nil
}

// queryRecords decodes the data column of every row query returns.
func queryRecords[T any](ctx context.Context, s *Store, query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, s.failed("query", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var (
			data string
			v    T
		)
		if err := rows.Scan(&data); err != nil {
			return nil, s.failed("query", err)
		}
		if err := decode(data, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.failed("query", err)
	}
	return out, nil
}
