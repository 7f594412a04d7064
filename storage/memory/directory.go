package memory

import (
	"context"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// PutNetwork creates or replaces a network.
func (s *Store) PutNetwork(ctx context.Context, n referral.Network) error {
	return s.write(ctx, n.Validate, func() error {
		if net, ok := s.networks[n.ID]; ok {
			net.n = n
			return nil
		}
		net := newNetwork(n)
		net.at = uint32(len(s.netList))
		s.networks[n.ID] = net
		s.netList = append(s.netList, net)
		return nil
	})
}

// GetNetwork returns the network, or ErrNotFound.
func (s *Store) GetNetwork(ctx context.Context, id referral.ID) (referral.Network, error) {
	var n referral.Network
	err := s.read(ctx, func() error {
		net, err := s.network(id)
		if err == nil {
			n = net.n
		}
		return err
	})
	return n, err
}

// PutOrganization creates or replaces an organization in an existing network.
func (s *Store) PutOrganization(ctx context.Context, o referral.Organization) error {
	return s.writeIn(ctx, o.Validate, o.Network, func() error {
		if _, _, err := s.orgs.put(o.ID, o); err != nil {
			return err
		}
		s.networks[o.Network].directory.append(storage.DirectoryChange{
			Network: o.Network, Kind: storage.ChangeOrganization, Organization: o.ID})
		return nil
	})
}

// GetOrganization returns the organization, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, network, id referral.ID) (referral.Organization, error) {
	return get(ctx, s, &s.orgs, network, id)
}

// ListOrganizations pages through a network's organizations in id order.
func (s *Store) ListOrganizations(ctx context.Context, network referral.ID, p storage.Page) ([]referral.Organization, referral.ID, error) {
	return list(ctx, s, &s.orgs, network, p)
}

// PutService creates or replaces a service of an organization in the same network.
func (s *Store) PutService(ctx context.Context, svc referral.Service) error {
	return s.writeIn(ctx, svc.Validate, svc.Network, func() error {
		if _, err := s.orgs.find(svc.Network, svc.Organization); err != nil {
			return err
		}
		if _, _, err := s.services.put(svc.ID, svc); err != nil {
			return err
		}
		s.networks[svc.Network].directory.append(storage.DirectoryChange{
			Network: svc.Network, Kind: storage.ChangeService, Organization: svc.Organization, Service: svc.ID})
		return nil
	})
}

// GetService returns the service, or ErrNotFound.
func (s *Store) GetService(ctx context.Context, network, id referral.ID) (referral.Service, error) {
	return get(ctx, s, &s.services, network, id)
}

// ListServices pages through a network's services in id order.
func (s *Store) ListServices(ctx context.Context, network referral.ID, p storage.Page) ([]referral.Service, referral.ID, error) {
	return list(ctx, s, &s.services, network, p)
}

// DeleteService removes a service, or returns ErrNotFound.
func (s *Store) DeleteService(ctx context.Context, network, id referral.ID) error {
	return s.write(ctx, noInput, func() error {
		svc, err := s.services.find(network, id)
		if err != nil {
			return err
		}
		if err := s.services.remove(network, id); err != nil {
			return err
		}
		s.networks[network].directory.append(storage.DirectoryChange{
			Network: network, Kind: storage.ChangeServiceDeleted, Organization: svc.Organization, Service: id})
		return nil
	})
}

// PutPerson creates or replaces a person in an existing network.
func (s *Store) PutPerson(ctx context.Context, p referral.Person) error {
	return s.writeIn(ctx, p.Validate, p.Network, func() error {
		_, _, err := s.persons.put(p.ID, p)
		return err
	})
}

// GetPerson returns the person, or ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, network, id referral.ID) (referral.Person, error) {
	return get(ctx, s, &s.persons, network, id)
}

// PutConsent creates or replaces a consent; its person and grantee must exist in
// its network.
func (s *Store) PutConsent(ctx context.Context, c referral.Consent) error {
	return s.writeIn(ctx, c.Validate, c.Network, func() error {
		if _, err := s.persons.find(c.Network, c.Person); err != nil {
			return err
		}
		if _, err := s.orgs.find(c.Network, c.Grantee); err != nil {
			return err
		}
		old, replaced, err := s.consents.put(c.ID, c)
		if err != nil {
			return err
		}
		if replaced && old.Person != c.Person {
			s.dropConsent(old)
		}
		s.addConsent(c)
		return nil
	})
}

// addConsent puts c in its person's list, replacing a consent with its id.
// Callers hold the write lock.
func (s *Store) addConsent(c referral.Consent) {
	// Copy on write: a slice handed to a reader under RLock is never changed.
	list := s.consentsOf[c.Person]
	next := make([]referral.Consent, 0, len(list)+1)
	i := 0
	for i < len(list) && list[i].ID.Compare(c.ID) < 0 {
		i++
	}
	next = append(next, list[:i]...)
	next = append(next, c)
	if i < len(list) && list[i].ID == c.ID {
		i++
	}
	next = append(next, list[i:]...)
	s.consentsOf[c.Person] = next
}

// dropConsent removes c from its person's list. Callers hold the write lock.
func (s *Store) dropConsent(c referral.Consent) {
	list := s.consentsOf[c.Person]
	next := make([]referral.Consent, 0, len(list))
	for _, x := range list {
		if x.ID != c.ID {
			next = append(next, x)
		}
	}
	if len(next) == 0 {
		delete(s.consentsOf, c.Person)
		return
	}
	s.consentsOf[c.Person] = next
}

// GetConsent returns the consent, or ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, network, id referral.ID) (referral.Consent, error) {
	return get(ctx, s, &s.consents, network, id)
}

// ListConsents returns the person's consents in id order; none for an unknown
// person.
func (s *Store) ListConsents(ctx context.Context, network, person referral.ID) ([]referral.Consent, error) {
	var out []referral.Consent
	err := s.read(ctx, func() error {
		for _, c := range s.consentsOf[person] {
			if c.Network == network {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// PutScreening stores an immutable screening result of an existing person.
func (s *Store) PutScreening(ctx context.Context, sc referral.Screening) error {
	return s.writeIn(ctx, sc.Validate, sc.Network, func() error {
		if _, err := s.persons.find(sc.Network, sc.Person); err != nil {
			return err
		}
		return s.screenings.add(sc.ID, sc)
	})
}

// GetScreening returns the screening, or ErrNotFound.
func (s *Store) GetScreening(ctx context.Context, network, id referral.ID) (referral.Screening, error) {
	return get(ctx, s, &s.screenings, network, id)
}

// ListScreenings returns the person's screenings in id order; none for an unknown
// person.
func (s *Store) ListScreenings(ctx context.Context, network, person referral.ID) ([]referral.Screening, error) {
	var out []referral.Screening
	err := s.read(ctx, func() error {
		out = s.screenings.listed(person, network)
		return nil
	})
	return out, err
}

// FindPerson reports whether the person exists in network (nil) or not
// (ErrNotFound), copying nothing out: the check lifecycle.Engine.Create makes
// (lifecycle.PersonFinder).
func (s *Store) FindPerson(ctx context.Context, network, id referral.ID) error {
	return s.read(ctx, func() error {
		_, err := s.persons.find(network, id)
		return err
	})
}

// FindOrganization reports whether the organization exists in network (nil)
// or not (ErrNotFound), copying nothing out (lifecycle.DirectoryFinder).
func (s *Store) FindOrganization(ctx context.Context, network, id referral.ID) error {
	return s.read(ctx, func() error {
		_, err := s.orgs.find(network, id)
		return err
	})
}

// FindService returns the organization offering the service and whether
// location is one of its locations, or ErrNotFound, copying nothing out
// (lifecycle.DirectoryFinder).
func (s *Store) FindService(ctx context.Context, network, id, location referral.ID) (organization referral.ID, atLocation bool, err error) {
	err = s.read(ctx, func() error {
		svc, err := s.services.find(network, id)
		if err != nil {
			return err
		}
		organization = svc.Organization
		_, atLocation = svc.Location(location)
		return nil
	})
	return organization, atLocation, err
}
