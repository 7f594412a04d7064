package storage

import (
	"errors"
	"slices"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// CheckCreate validates a CreateReferral call: r and e are each valid, r is at
// Version 1, and e is its first event (Sequence 1, no From, To equal to r's
// status). Every backend calls it before writing, so all reject the same input.
func CheckCreate(r referral.Referral, e referral.Event) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Version != 1 {
		return referral.Invalid("version", "must be 1 for a new referral")
	}
	if e.From != "" {
		return referral.Invalid("event.from", "must be empty for a referral's first event")
	}
	return checkEvent(r, e)
}

// CheckUpdate validates an UpdateReferral call: r and e are each valid, r is at
// Version 2 or later, and e records r's write (Sequence equal to r's Version, To
// equal to r's status). Whether e.From matches the stored status is for the
// backend to check against what it holds.
func CheckUpdate(r referral.Referral, e referral.Event) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Version < 2 {
		return referral.Invalid("version", "must be at least 2 on update")
	}
	return checkEvent(r, e)
}

func checkEvent(r referral.Referral, e referral.Event) error {
	if err := e.Validate(); err != nil {
		var ve *referral.ValidationError
		if errors.As(err, &ve) {
			return referral.Invalid("event."+ve.Field, ve.Problem)
		}
		return err
	}
	switch {
	case e.Network != r.Network:
		return referral.Invalid("event.network_id", "must be the referral's network")
	case e.Referral != r.ID:
		return referral.Invalid("event.referral_id", "must be the referral's id")
	case e.Sequence != r.Version:
		return referral.Invalid("event.sequence", "must equal the referral's new version")
	case e.To != r.Status:
		return referral.Invalid("event.to", "must be the referral's new status")
	}
	return nil
}

// CheckPage validates a listing of a network's records and returns the page
// size to use (see Limit). A zero network is ErrInvalid: a listing cannot miss.
func CheckPage(network referral.ID, p Page) (int, error) {
	if network.IsZero() {
		return 0, referral.Invalid("network_id", "is required")
	}
	return Limit(p.Limit)
}

// CheckReferralQuery validates a ListReferrals call and returns the page size.
// Beyond CheckPage it bounds the status filter (see MaxStatuses): at most one
// entry per status, each a known status, so no backend ever builds a query
// whose size the caller chose.
func CheckReferralQuery(q ReferralQuery) (int, error) {
	limit, err := CheckPage(q.Network, q.Page)
	if err != nil {
		return 0, err
	}
	if len(q.Statuses) > MaxStatuses {
		return 0, referral.Invalid("statuses", "has more entries than there are statuses")
	}
	for i, st := range q.Statuses {
		if err := st.Validate(); err != nil {
			return 0, referral.Invalid("statuses["+strconv.Itoa(i)+"]", "is not a referral Task status")
		}
		if slices.Contains(q.Statuses[:i], st) {
			return 0, referral.Invalid("statuses["+strconv.Itoa(i)+"]", "repeats an earlier status")
		}
	}
	return limit, nil
}

// CheckFeed validates a Feed call and returns the page size.
func CheckFeed(q FeedQuery) (int, error) {
	if q.Network.IsZero() {
		return 0, referral.Invalid("network_id", "is required")
	}
	if q.After < 0 {
		return 0, referral.Invalid("after", "must not be negative")
	}
	return Limit(q.Limit)
}

// ForeignScreening is the error a backend returns when need i of a referral
// cites a screening that is not one of the referral's person's in its network:
// a screening that does not exist, or someone else's. The two read the same,
// so the error does not tell whether another person's screening exists.
// CreateReferral and UpdateReferral check every cited screening inside their
// write, after the checks the contract lists first.
func ForeignScreening(i int) error {
	return referral.Invalid("needs["+strconv.Itoa(i)+"].screening_id", "is not a screening of the referral's person")
}

// CheckDirectoryQuery validates a DirectoryChanges call and returns the page
// size, with CheckFeed's rules.
func CheckDirectoryQuery(q DirectoryQuery) (int, error) {
	if q.Network.IsZero() {
		return 0, referral.Invalid("network_id", "is required")
	}
	if q.After < 0 {
		return 0, referral.Invalid("after", "must not be negative")
	}
	return Limit(q.Limit)
}

// CheckCapacity validates a SetCapacity call: both ids set, and the capacity,
// when not nil, valid.
func CheckCapacity(network, service referral.ID, c *referral.Capacity) error {
	if err := network.Require("network_id"); err != nil {
		return err
	}
	if err := service.Require("service_id"); err != nil {
		return err
	}
	if c != nil {
		return c.Validate()
	}
	return nil
}

// CheckCapacityAdjustment validates an AdjustCapacity call: both ids set, a
// Delta that is not zero and at most MaxCapacityDelta either way, a positive
// Cause.
func CheckCapacityAdjustment(a CapacityAdjustment) error {
	if err := a.Network.Require("network_id"); err != nil {
		return err
	}
	if err := a.Service.Require("service_id"); err != nil {
		return err
	}
	if a.Delta == 0 || a.Delta > MaxCapacityDelta || a.Delta < -MaxCapacityDelta {
		return referral.Invalid("delta", "must be a non-zero number of places, at most 1,000,000 either way")
	}
	if a.Cause <= 0 {
		return referral.Invalid("cause", "must be a referral feed position above zero")
	}
	return nil
}

// CheckDirectoryBatch validates a PutDirectory call: at most MaxLimit records
// in all, each valid (the error names it, "organizations[2].name"), all of one
// network, no id twice.
func CheckDirectoryBatch(orgs []referral.Organization, services []referral.Service) error {
	if len(orgs)+len(services) > MaxLimit {
		return referral.Invalid("records", "are more than 1000 in one batch")
	}
	var network referral.ID
	seen := make(map[referral.ID]bool, len(orgs)+len(services))
	check := func(field string, id, net referral.ID, validate func() error) error {
		if err := validate(); err != nil {
			var ve *referral.ValidationError
			if errors.As(err, &ve) {
				return referral.Invalid(field+"."+ve.Field, ve.Problem)
			}
			return err
		}
		if network.IsZero() {
			network = net
		}
		if net != network {
			return referral.Invalid(field+".network_id", "must be the batch's one network")
		}
		if seen[id] {
			return referral.Invalid(field+".id", "is a duplicate")
		}
		seen[id] = true
		return nil
	}
	for i, o := range orgs {
		if err := check("organizations["+strconv.Itoa(i)+"]", o.ID, o.Network, o.Validate); err != nil {
			return err
		}
	}
	for i, s := range services {
		if err := check("services["+strconv.Itoa(i)+"]", s.ID, s.Network, s.Validate); err != nil {
			return err
		}
	}
	return nil
}
