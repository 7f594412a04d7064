package memory

import (
	"context"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

var _ storage.Eraser = (*Store)(nil)

// ErasePerson removes the person's personal data under the write lock, so the
// whole erasure is one atomic write (see storage.Eraser for what it removes).
// An event's note is dropped from the log's index; its bytes stay in the
// log's arena, unreachable, until the store is closed, because strings handed
// to readers share those bytes and must not change under them.
func (s *Store) ErasePerson(ctx context.Context, network, id referral.ID, at time.Time) (storage.Erasure, error) {
	var res storage.Erasure
	err := s.writeIn(ctx, func() error { return id.Require("person_id") }, network, func() error {
		p, err := s.persons.find(network, id)
		if err != nil {
			return err
		}
		if _, _, err := s.persons.put(id, storage.ErasedPerson(p, at)); err != nil {
			return err
		}
		for _, sc := range s.screenings.listed(id, network) {
			if erased, changed := storage.ErasedScreening(sc); changed {
				if _, _, err := s.screenings.put(sc.ID, erased); err != nil {
					return err
				}
				res.Screenings++
			}
		}
		for _, c := range s.consentsOf[id] {
			if c.Network != network {
				continue
			}
			if erased, changed := storage.ErasedConsent(c, at); changed {
				if _, _, err := s.consents.put(c.ID, erased); err != nil {
					return err
				}
				s.addConsent(erased)
				res.Consents++
			}
		}
		net := s.networks[network]
		net.index(s)
		for rid := range net.byPerson[id].all() {
			i := s.referrals[rid]
			if erased, changed := storage.ErasedReferral(s.get(i)); changed {
				s.encode(i, &erased, true)
				res.Referrals++
			}
			for pos := s.recs.at(i).lastEvent; pos > 0; pos = s.log.previous(pos) {
				if s.log.eraseNote(pos) {
					res.Events++
				}
			}
		}
		return nil
	})
	if err != nil {
		return storage.Erasure{}, err
	}
	return res, nil
}
