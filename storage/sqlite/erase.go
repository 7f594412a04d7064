package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

var _ storage.Eraser = (*Store)(nil)

// The statements of ErasePerson. They run rarely, so they are not prepared
// when the store opens.
const (
	qErasePersonRow  = `SELECT data FROM persons WHERE id = ? AND network_id = ?`
	qEraseScreenings = `SELECT data FROM screenings WHERE person_id = ? AND network_id = ?`
	qEraseScreening  = `UPDATE screenings SET data = ? WHERE id = ?`
	qEraseConsents   = `SELECT data FROM consents WHERE person_id = ? AND network_id = ?`
	qEraseConsent    = `UPDATE consents SET revoked = ?, data = ? WHERE id = ?`
	qEraseReferrals  = `SELECT data FROM referrals WHERE network_id = ? AND person_id = ?`
	qEraseReferral   = `UPDATE referrals SET data = ? WHERE id = ?`
	qEraseEventNotes = `UPDATE events SET note = '' WHERE network_id = ? AND note <> ''
		AND referral_id IN (SELECT id FROM referrals WHERE network_id = ? AND person_id = ?)`
)

// ErasePerson removes the person's personal data in one write transaction
// (see storage.Eraser for what it removes). SQLite keeps the bytes of
// rewritten rows in free pages and the write-ahead log until they are reused,
// checkpointed or vacuumed: a host that must remove them from the file too
// runs VACUUM after erasing (or opens the database with secure_delete).
func (s *Store) ErasePerson(ctx context.Context, network, id referral.ID, at time.Time) (storage.Erasure, error) {
	var res storage.Erasure
	err := s.put(ctx, "erase person", func() error { return id.Require("person_id") }, func(tx *sql.Tx) error {
		res = storage.Erasure{}
		var data string
		err := s.txRow(ctx, tx, qErasePersonRow, blob(id), blob(network)).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("person", id)
		}
		if err != nil {
			return err
		}
		var p referral.Person
		if err := decode(data, &p); err != nil {
			return err
		}
		if err := s.rewrite(ctx, tx, qPutPerson, storage.ErasedPerson(p, at), blob(id), blob(network)); err != nil {
			return err
		}
		screenings, err := txRecords[referral.Screening](ctx, tx, qEraseScreenings, blob(id), blob(network))
		if err != nil {
			return err
		}
		for _, sc := range screenings {
			if erased, changed := storage.ErasedScreening(sc); changed {
				if err := s.rewriteData(ctx, tx, qEraseScreening, erased, blob(sc.ID)); err != nil {
					return err
				}
				res.Screenings++
			}
		}
		consents, err := txRecords[referral.Consent](ctx, tx, qEraseConsents, blob(id), blob(network))
		if err != nil {
			return err
		}
		for _, c := range consents {
			if erased, changed := storage.ErasedConsent(c, at); changed {
				doc, err := encode(erased)
				if err != nil {
					return err
				}
				if _, err := s.txExec(ctx, tx, qEraseConsent, nanos(erased.Revoked), doc, blob(c.ID)); err != nil {
					return err
				}
				res.Consents++
			}
		}
		referrals, err := txRecords[referral.Referral](ctx, tx, qEraseReferrals, blob(network), blob(id))
		if err != nil {
			return err
		}
		for _, r := range referrals {
			if erased, changed := storage.ErasedReferral(r); changed {
				if err := s.rewriteData(ctx, tx, qEraseReferral, erased, blob(r.ID)); err != nil {
					return err
				}
				res.Referrals++
			}
		}
		notes, err := s.txExec(ctx, tx, qEraseEventNotes, blob(network), blob(network), blob(id))
		if err != nil {
			return err
		}
		n, err := notes.RowsAffected()
		res.Events = int(n)
		return err
	})
	if err != nil {
		return storage.Erasure{}, err
	}
	return res, nil
}

// rewrite stores a person again with qPutPerson's argument order.
func (s *Store) rewrite(ctx context.Context, tx *sql.Tx, query string, p referral.Person, id, network []byte) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, query, id, network, doc)
	return err
}

// rewriteData runs an UPDATE ... SET data = ? WHERE id = ? with v encoded.
func (s *Store) rewriteData(ctx context.Context, tx *sql.Tx, query string, v any, id []byte) error {
	doc, err := encode(v)
	if err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, query, doc, id)
	return err
}

// txRecords reads the data column of every row query returns, inside tx.
func txRecords[T any](ctx context.Context, tx *sql.Tx, query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := decode(data, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
