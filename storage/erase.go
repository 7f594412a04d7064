package storage

import (
	"context"
	"time"

	"github.com/refkit/refkit/referral"
)

// Eraser is implemented by stores that can erase a person: every backend in
// refkit (memory, sqlite, postgres) does. It is its own interface, not part of
// Store, so that a host's own Store implementation keeps compiling; hosts and
// the api package check for it with a type assertion.
type Eraser interface {
	// ErasePerson removes the personal data of person id in network, at time
	// at, in one atomic write, and reports what it changed. An unknown person
	// is referral.ErrNotFound and nothing is written.
	//
	// Erasure keeps every record and every id, so that referral counts,
	// statuses, milestones and loop-closure metrics survive and the event log
	// keeps its positions and sequences; what is removed is what identifies or
	// describes the person:
	//   - the person: every field but id, network and created is cleared
	//     (ErasedPerson), and Erased is set to at;
	//   - screenings: the answers, total, band, flags and missing items are
	//     removed; the instrument, time, validity, positive domains and needs
	//     stay, because referral needs cite them (ErasedScreening);
	//   - consents: the signed document's address is removed, and a consent
	//     still in force is revoked at at, so nobody goes on seeing the
	//     person's referrals through it (ErasedConsent);
	//   - referrals: the outcome's free-text note is removed (ErasedReferral);
	//     versions do not change, since erasure is not a lifecycle event;
	//   - events of the person's referrals: the free-text note (the messages
	//     between the organizations) is blanked in place. Positions, sequences,
	//     types, statuses, reasons and actors stay, so a feed follower's
	//     cursor and Replay are unaffected.
	//
	// Erasing again is harmless and reports nothing more to change. A later
	// PutPerson stores what it is given: the api package refuses it for an
	// erased person. Backends state in their package doc what erasure leaves
	// in the database file or server's free space.
	ErasePerson(ctx context.Context, network, id referral.ID, at time.Time) (Erasure, error)
}

// Erasure counts what ErasePerson changed.
type Erasure struct {
	// Screenings, Consents and Referrals count records rewritten.
	Screenings int `json:"screenings"`
	Consents   int `json:"consents"`
	Referrals  int `json:"referrals"`
	// Events counts events whose note was blanked.
	Events int `json:"events"`
}

// ErasedPerson is p with its personal data removed: only the id, network and
// creation time stay, Updated and Erased become at (or stay, if p was erased
// already). Backends store it; it is exported so that every backend erases
// the same fields.
func ErasedPerson(p referral.Person, at time.Time) referral.Person {
	out := referral.Person{ID: p.ID, Network: p.Network, Created: p.Created, Updated: at, Erased: at}
	if !p.Erased.IsZero() {
		out.Updated, out.Erased = p.Updated, p.Erased
	}
	return out
}

// ErasedScreening is s without the person's answers and what was computed
// from them beyond the needs: the total, band, flags and missing items. The
// needs and positive domains stay, since referral needs cite them and
// metrics count them. changed reports whether anything was removed.
func ErasedScreening(s referral.Screening) (out referral.Screening, changed bool) {
	changed = len(s.Answers) > 0 || s.Total != nil || s.Band != "" || len(s.Flags) > 0 || len(s.Missing) > 0
	s = s.Clone()
	s.Answers, s.Total, s.Band, s.Flags, s.Missing = nil, nil, "", nil, nil
	return s, changed
}

// ErasedConsent is c without its document's address and, if it was still in
// force or yet to start at at, revoked at at. changed reports whether
// anything changed.
func ErasedConsent(c referral.Consent, at time.Time) (out referral.Consent, changed bool) {
	if c.Document != "" {
		c.Document, changed = "", true
	}
	ended := !c.Revoked.IsZero() && !at.Before(c.Revoked) || !c.Period.End.IsZero() && !at.Before(c.Period.End)
	if !ended {
		c.Revoked, changed = at, true
	}
	return c, changed
}

// ErasedReferral is r without its outcome's note. changed reports whether
// there was one.
func ErasedReferral(r referral.Referral) (out referral.Referral, changed bool) {
	if r.Outcome == nil || r.Outcome.Note == "" {
		return r, false
	}
	r = r.Clone()
	r.Outcome.Note = ""
	return r, true
}
