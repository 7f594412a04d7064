package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

var _ storage.Eraser = (*Store)(nil)

// ErasePerson removes the person's personal data in one transaction (see
// storage.Eraser for what it removes); the person's row is locked first, so
// two erasures of one person, or an erasure and a PutPerson, do not
// interleave. PostgreSQL keeps old row versions until VACUUM reclaims them,
// and in its write-ahead log and backups: a host that must remove them there
// too runs VACUUM on the tables afterwards and follows its backup retention.
func (s *Store) ErasePerson(ctx context.Context, network, id referral.ID, at time.Time) (storage.Erasure, error) {
	if err := s.live(ctx); err != nil {
		return storage.Erasure{}, err
	}
	if err := id.Require("person_id"); err != nil {
		return storage.Erasure{}, err
	}
	var res storage.Erasure
	// Erasing is idempotent: a retry after a lost connection erases what is
	// left, if anything, and counts it.
	err := s.call(ctx, "erase person", func(q querier) error {
		res = storage.Erasure{}
		return s.inTx(ctx, q, func(tx querier) error {
			var doc []byte
			err := tx.QueryRow(ctx, `SELECT doc FROM persons WHERE id = $1 AND network_id = $2 FOR UPDATE`,
				uid(id), uid(network)).Scan(&doc)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("person", id)
			}
			if err != nil {
				return err
			}
			p, err := decode[referral.Person]("person", doc)
			if err != nil {
				return err
			}
			if err := update(ctx, tx, `UPDATE persons SET doc = $2::jsonb WHERE id = $1`, "person", id, storage.ErasedPerson(p, at)); err != nil {
				return err
			}
			screenings, err := docs[referral.Screening](ctx, tx, "screening",
				`SELECT doc FROM screenings WHERE person_id = $1 AND network_id = $2 FOR UPDATE`, uid(id), uid(network))
			if err != nil {
				return err
			}
			for _, sc := range screenings {
				if erased, changed := storage.ErasedScreening(sc); changed {
					if err := update(ctx, tx, `UPDATE screenings SET doc = $2::jsonb WHERE id = $1`, "screening", sc.ID, erased); err != nil {
						return err
					}
					res.Screenings++
				}
			}
			consents, err := docs[referral.Consent](ctx, tx, "consent",
				`SELECT doc FROM consents WHERE person_id = $1 AND network_id = $2 FOR UPDATE`, uid(id), uid(network))
			if err != nil {
				return err
			}
			for _, c := range consents {
				if erased, changed := storage.ErasedConsent(c, at); changed {
					doc, err := encode("consent", erased)
					if err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE consents SET revoked = $2::timestamptz, doc = $3::jsonb WHERE id = $1`,
						uid(c.ID), nullTime(erased.Revoked), doc); err != nil {
						return err
					}
					res.Consents++
				}
			}
			referrals, err := docs[referral.Referral](ctx, tx, "referral",
				`SELECT doc FROM referrals WHERE network_id = $1 AND person_id = $2 FOR UPDATE`, uid(network), uid(id))
			if err != nil {
				return err
			}
			for _, r := range referrals {
				if erased, changed := storage.ErasedReferral(r); changed {
					if err := update(ctx, tx, `UPDATE referrals SET doc = $2::jsonb WHERE id = $1`, "referral", r.ID, erased); err != nil {
						return err
					}
					res.Referrals++
				}
			}
			tag, err := tx.Exec(ctx, `UPDATE events SET doc = doc - 'note'
				WHERE network_id = $1 AND doc ? 'note'
				  AND referral_id IN (SELECT id FROM referrals WHERE network_id = $1 AND person_id = $2)`,
				uid(network), uid(id))
			res.Events = int(tag.RowsAffected())
			return err
		})
	})
	if err != nil {
		return storage.Erasure{}, err
	}
	return res, nil
}

// update writes v's JSON as the doc of the row id with query ($1 the id, $2
// the doc).
func update(ctx context.Context, tx querier, query, kind string, id referral.ID, v any) error {
	doc, err := encode(kind, v)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, query, uid(id), doc)
	return err
}

// docs decodes the doc column of every row query returns.
func docs[T any](ctx context.Context, tx querier, kind, query string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(raw))
	for _, doc := range raw {
		v, err := decode[T](kind, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
