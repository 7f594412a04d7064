package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// The directory writes are single statements: each inserts or replaces a record
// only when what it references exists in its network, and replaces a record only
// within its own network. When a statement writes nothing, a second query tells
// the caller why (ErrNotFound or ErrConflict). The writes of organizations and
// services also append to the directory feed (directoryfeed.go).

// PutNetwork creates or replaces a network, with its feed head.
func (s *Store) PutNetwork(ctx context.Context, n referral.Network) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutNetwork)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return err
	}
	doc, err := encode("network", n)
	if err != nil {
		return err
	}
	return s.call(ctx, "put network", func(q querier) error {
		_, err := q.Exec(ctx, `
			WITH n AS (
				INSERT INTO networks (id, doc) VALUES ($1, $2)
				ON CONFLICT (id) DO UPDATE SET doc = excluded.doc
				RETURNING id)
			INSERT INTO feed_heads (network_id, position) SELECT id, 0 FROM n
			ON CONFLICT (network_id) DO NOTHING`, uid(n.ID), doc)
		return err
	})
}

// GetNetwork returns the network, or ErrNotFound.
func (s *Store) GetNetwork(ctx context.Context, id referral.ID) (_ referral.Network, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetNetwork)
	defer obs.End(ctx, &err)
	return getDoc[referral.Network](ctx, s, "network", id, `SELECT doc FROM networks WHERE id = $1`, uid(id))
}

// PutOrganization creates or replaces an organization of an existing network.
func (s *Store) PutOrganization(ctx context.Context, o referral.Organization) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutOrganization)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	doc, err := encode("organization", o)
	if err != nil {
		return err
	}
	err = s.call(ctx, "put organization", func(q querier) error {
		ok, err := s.directoryWrite(ctx, q, putOrganizationW, []any{uid(o.ID), uid(o.Network), doc}, storage.ChangeOrganization, o.Network)
		if err != nil || ok {
			return err
		}
		return s.whyNot(ctx, q, "organization", o.ID, networkExists, uid(o.Network))
	})
	if err != nil {
		return err
	}
	s.directory.wake(o.Network)
	return nil
}

// GetOrganization returns the organization, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, network, id referral.ID) (_ referral.Organization, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetOrganization)
	defer obs.End(ctx, &err)
	return getDoc[referral.Organization](ctx, s, "organization", id,
		`SELECT doc FROM organizations WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// ListOrganizations pages through a network's organizations in id order.
func (s *Store) ListOrganizations(ctx context.Context, network referral.ID, p storage.Page) (out []referral.Organization, _ referral.ID, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListOrganizations)
	defer endList(ctx, &obs, &err, &out)
	return pageDocs(ctx, s, "organization", network, p, organizationID,
		`SELECT doc FROM organizations WHERE network_id = $1 AND id > $2 ORDER BY id LIMIT $3`)
}

// PutService creates or replaces a service of an organization in its network.
func (s *Store) PutService(ctx context.Context, svc referral.Service) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutService)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := svc.Validate(); err != nil {
		return err
	}
	doc, err := encode("service", svc)
	if err != nil {
		return err
	}
	err = s.call(ctx, "put service", func(q querier) error {
		ok, err := s.directoryWrite(ctx, q, putServiceW, []any{uid(svc.ID), uid(svc.Network), uid(svc.Organization), doc},
			storage.ChangeService, svc.Network)
		if err != nil || ok {
			return err
		}
		return s.whyNot(ctx, q, "service", svc.ID, organizationExists, uid(svc.Organization), uid(svc.Network))
	})
	if err != nil {
		return err
	}
	s.directory.wake(svc.Network)
	return nil
}

// GetService returns the service, or ErrNotFound.
func (s *Store) GetService(ctx context.Context, network, id referral.ID) (_ referral.Service, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetService)
	defer obs.End(ctx, &err)
	return getDoc[referral.Service](ctx, s, "service", id,
		`SELECT doc FROM services WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// ListServices pages through a network's services in id order.
func (s *Store) ListServices(ctx context.Context, network referral.ID, p storage.Page) (out []referral.Service, _ referral.ID, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListServices)
	defer endList(ctx, &obs, &err, &out)
	return pageDocs(ctx, s, "service", network, p, serviceID,
		`SELECT doc FROM services WHERE network_id = $1 AND id > $2 ORDER BY id LIMIT $3`)
}

// DeleteService removes a service; ErrNotFound if the network has none with id.
func (s *Store) DeleteService(ctx context.Context, network, id referral.ID) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpDeleteService)
	defer obs.End(ctx, &err)
	err = s.write(ctx, "delete service", func(q querier, again bool) error {
		ok, err := s.directoryWrite(ctx, q, deleteServiceW, []any{uid(id), uid(network)}, storage.ChangeServiceDeleted, network)
		if err == nil && !ok && !again {
			// After an interrupted attempt, a service that is gone is one
			// that attempt deleted: the caller's intent holds either way.
			return notFound("service", id)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.directory.wake(network)
	return nil
}

// PutPerson creates or replaces a person of an existing network.
func (s *Store) PutPerson(ctx context.Context, p referral.Person) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutPerson)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	doc, err := encode("person", p)
	if err != nil {
		return err
	}
	return s.call(ctx, "put person", func(q querier) error {
		tag, err := q.Exec(ctx, `
			INSERT INTO persons (id, network_id, doc)
			SELECT $1::uuid, $2::uuid, $3::jsonb
			WHERE EXISTS (SELECT 1 FROM networks WHERE id = $2::uuid)
			ON CONFLICT (id) DO UPDATE SET doc = excluded.doc
			WHERE persons.network_id = excluded.network_id`, uid(p.ID), uid(p.Network), doc)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return s.whyNot(ctx, q, "person", p.ID, networkExists, uid(p.Network))
	})
}

// GetPerson returns the person, or ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, network, id referral.ID) (_ referral.Person, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetPerson)
	defer obs.End(ctx, &err)
	return getDoc[referral.Person](ctx, s, "person", id,
		`SELECT doc FROM persons WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// PutConsent creates or replaces a consent; its person and grantee must exist
// in its network.
func (s *Store) PutConsent(ctx context.Context, c referral.Consent) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutConsent)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	doc, err := encode("consent", c)
	if err != nil {
		return err
	}
	return s.call(ctx, "put consent", func(q querier) error {
		tag, err := q.Exec(ctx, `
			INSERT INTO consents (id, network_id, person_id, grantee_id, scope, period_start, period_end, revoked, doc)
			SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::timestamptz, $7::timestamptz, $8::timestamptz, $9::jsonb
			WHERE EXISTS (SELECT 1 FROM persons WHERE id = $3::uuid AND network_id = $2::uuid)
			  AND EXISTS (SELECT 1 FROM organizations WHERE id = $4::uuid AND network_id = $2::uuid)
			ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, grantee_id = excluded.grantee_id,
				scope = excluded.scope, period_start = excluded.period_start, period_end = excluded.period_end,
				revoked = excluded.revoked, doc = excluded.doc
			WHERE consents.network_id = excluded.network_id`,
			uid(c.ID), uid(c.Network), uid(c.Person), uid(c.Grantee), string(c.Scope),
			nullTime(c.Period.Start), nullTime(c.Period.End), nullTime(c.Revoked), doc)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return s.whyNot(ctx, q, "consent", c.ID, personAndGranteeExist, uid(c.Person), uid(c.Grantee), uid(c.Network))
	})
}

// GetConsent returns the consent, or ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, network, id referral.ID) (_ referral.Consent, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetConsent)
	defer obs.End(ctx, &err)
	return getDoc[referral.Consent](ctx, s, "consent", id,
		`SELECT doc FROM consents WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// ListConsents returns every consent the person gave, in id order.
func (s *Store) ListConsents(ctx context.Context, network, person referral.ID) (out []referral.Consent, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListConsents)
	defer endList(ctx, &obs, &err, &out)
	return listDocs[referral.Consent](ctx, s, "consent",
		`SELECT doc FROM consents WHERE person_id = $1 AND network_id = $2 ORDER BY id`, uid(person), uid(network))
}

// PutScreening stores an immutable screening result of a person in its network.
func (s *Store) PutScreening(ctx context.Context, sc referral.Screening) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpPutScreening)
	defer obs.End(ctx, &err)
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	doc, err := encode("screening", sc)
	if err != nil {
		return err
	}
	return s.write(ctx, "put screening", func(q querier, again bool) error {
		tag, err := q.Exec(ctx, `
			INSERT INTO screenings (id, network_id, person_id, doc)
			SELECT $1::uuid, $2::uuid, $3::uuid, $4::jsonb
			WHERE EXISTS (SELECT 1 FROM persons WHERE id = $3::uuid AND network_id = $2::uuid)
			ON CONFLICT (id) DO NOTHING`, uid(sc.ID), uid(sc.Network), uid(sc.Person), doc)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		err = s.whyNot(ctx, q, "screening", sc.ID, personExists, uid(sc.Person), uid(sc.Network))
		if again && errors.Is(err, referral.ErrConflict) {
			// Screenings are immutable, so a taken id is a conflict, unless
			// the interrupted attempt stored this very document.
			var same bool
			if qerr := q.QueryRow(ctx, `SELECT doc = $3::jsonb FROM screenings WHERE id = $1 AND network_id = $2`,
				uid(sc.ID), uid(sc.Network), doc).Scan(&same); qerr != nil {
				return qerr
			}
			if same {
				return nil
			}
		}
		return err
	})
}

// GetScreening returns the screening, or ErrNotFound.
func (s *Store) GetScreening(ctx context.Context, network, id referral.ID) (_ referral.Screening, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpGetScreening)
	defer obs.End(ctx, &err)
	return getDoc[referral.Screening](ctx, s, "screening", id,
		`SELECT doc FROM screenings WHERE id = $1 AND network_id = $2`, uid(id), uid(network))
}

// ListScreenings returns the person's results in id (time) order.
func (s *Store) ListScreenings(ctx context.Context, network, person referral.ID) (out []referral.Screening, err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpListScreenings)
	defer endList(ctx, &obs, &err, &out)
	return listDocs[referral.Screening](ctx, s, "screening",
		`SELECT doc FROM screenings WHERE person_id = $1 AND network_id = $2 ORDER BY id`, uid(person), uid(network))
}

// The checks whyNot runs after a write that wrote nothing: each is true when
// what the record references exists.
const (
	networkExists         = `SELECT EXISTS (SELECT 1 FROM networks WHERE id = $1)`
	organizationExists    = `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1 AND network_id = $2)`
	personExists          = `SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1 AND network_id = $2)`
	personAndGranteeExist = `SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1 AND network_id = $3)
		AND EXISTS (SELECT 1 FROM organizations WHERE id = $2 AND network_id = $3)`
)

// whyNot explains a conditional write of record kind id that wrote nothing:
// ErrNotFound when check finds a referenced record missing, otherwise ErrConflict
// (the id is taken in another network, or by an immutable record).
func (s *Store) whyNot(ctx context.Context, q querier, kind string, id referral.ID, check string, args ...any) error {
	var ok bool
	if err := q.QueryRow(ctx, check, args...).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %s: the record it belongs to is missing: %w", kind, id, referral.ErrNotFound)
	}
	return conflict(kind, id, "is taken")
}

// getDoc reads one record's document with sql.
func getDoc[T any](ctx context.Context, s *Store, kind string, id referral.ID, sql string, args ...any) (T, error) {
	var v T
	err := s.call(ctx, "get "+kind, func(q querier) error {
		var doc []byte
		if err := q.QueryRow(ctx, sql, args...).Scan(&doc); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound(kind, id)
			}
			return err
		}
		var err error
		v, err = decode[T](kind, doc)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// listDocs reads the documents sql selects, in its order; nil when none.
func listDocs[T any](ctx context.Context, s *Store, kind, sql string, args ...any) ([]T, error) {
	var out []T
	err := s.call(ctx, "list "+kind, func(q querier) error {
		out = nil
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			v, err := decode[T](kind, doc)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pageDocs runs a listing query taking (network, after, limit) and returns one
// page and the next cursor, zero when no further record exists: it reads one
// row beyond the page to know.
func pageDocs[T any](ctx context.Context, s *Store, kind string, network referral.ID, p storage.Page, id func(T) referral.ID, sql string) ([]T, referral.ID, error) {
	if err := s.live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.CheckPage(network, p)
	if err != nil {
		return nil, referral.NilID, err
	}
	out, err := listDocs[T](ctx, s, kind, sql, uid(network), uid(p.After), limit+1)
	if err != nil {
		return nil, referral.NilID, err
	}
	if len(out) > limit {
		out = out[:limit]
		return out, id(out[limit-1]), nil
	}
	return out, referral.NilID, nil
}

func organizationID(o referral.Organization) referral.ID { return o.ID }
func serviceID(s referral.Service) referral.ID           { return s.ID }
