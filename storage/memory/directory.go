package memory

import (
	"context"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// PutNetwork creates or replaces a network.
func (s *Store) PutNetwork(ctx context.Context, n referral.Network) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if net, ok := s.networks[n.ID]; ok {
		net.n = n
		return nil
	}
	s.networks[n.ID] = newNetwork(n)
	return nil
}

// GetNetwork returns the network, or ErrNotFound.
func (s *Store) GetNetwork(ctx context.Context, id referral.ID) (referral.Network, error) {
	if err := live(ctx); err != nil {
		return referral.Network{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return referral.Network{}, ErrClosed
	}
	net, err := s.network(id)
	if err != nil {
		return referral.Network{}, err
	}
	return net.n, nil
}

// PutOrganization creates or replaces an organization in an existing network.
func (s *Store) PutOrganization(ctx context.Context, o referral.Organization) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	net, err := s.network(o.Network)
	if err != nil {
		return err
	}
	if old, ok := s.orgs[o.ID]; ok && old.Network != o.Network {
		return conflict("organization", o.ID, "belongs to another network")
	}
	s.orgs[o.ID] = o
	net.orgs.insert(o.ID)
	return nil
}

// GetOrganization returns the organization, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, network, id referral.ID) (referral.Organization, error) {
	if err := live(ctx); err != nil {
		return referral.Organization{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return referral.Organization{}, ErrClosed
	}
	o, ok := s.orgs[id]
	if !ok || o.Network != network {
		return referral.Organization{}, notFound("organization", id)
	}
	return o, nil
}

// ListOrganizations pages through a network's organizations in id order.
func (s *Store) ListOrganizations(ctx context.Context, network referral.ID, p storage.Page) ([]referral.Organization, referral.ID, error) {
	if err := live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	if err := requireNetwork(network); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.Limit(p.Limit)
	if err != nil {
		return nil, referral.NilID, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, referral.NilID, ErrClosed
	}
	net, ok := s.networks[network]
	if !ok {
		return nil, referral.NilID, nil
	}
	out, next := page(&net.orgs, p.After, limit, func(id referral.ID) (referral.Organization, bool) {
		return s.orgs[id], true
	})
	return out, next, nil
}

// PutService creates or replaces a service of an organization in the same network.
func (s *Store) PutService(ctx context.Context, svc referral.Service) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := svc.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	net, err := s.network(svc.Network)
	if err != nil {
		return err
	}
	if o, ok := s.orgs[svc.Organization]; !ok || o.Network != svc.Network {
		return notFound("organization", svc.Organization)
	}
	if old, ok := s.services[svc.ID]; ok && old.Network != svc.Network {
		return conflict("service", svc.ID, "belongs to another network")
	}
	s.services[svc.ID] = svc.Clone()
	net.services.insert(svc.ID)
	return nil
}

// GetService returns the service, or ErrNotFound.
func (s *Store) GetService(ctx context.Context, network, id referral.ID) (referral.Service, error) {
	if err := live(ctx); err != nil {
		return referral.Service{}, err
	}
	s.mu.RLock()
	svc, ok := s.services[id]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return referral.Service{}, ErrClosed
	}
	if !ok || svc.Network != network {
		return referral.Service{}, notFound("service", id)
	}
	// Stored values are never mutated in place, so cloning outside the lock is safe.
	return svc.Clone(), nil
}

// ListServices pages through a network's services in id order.
func (s *Store) ListServices(ctx context.Context, network referral.ID, p storage.Page) ([]referral.Service, referral.ID, error) {
	if err := live(ctx); err != nil {
		return nil, referral.NilID, err
	}
	if err := requireNetwork(network); err != nil {
		return nil, referral.NilID, err
	}
	limit, err := storage.Limit(p.Limit)
	if err != nil {
		return nil, referral.NilID, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, referral.NilID, ErrClosed
	}
	net, ok := s.networks[network]
	if !ok {
		return nil, referral.NilID, nil
	}
	out, next := page(&net.services, p.After, limit, func(id referral.ID) (referral.Service, bool) {
		return s.services[id].Clone(), true
	})
	return out, next, nil
}

// DeleteService removes a service, or returns ErrNotFound.
func (s *Store) DeleteService(ctx context.Context, network, id referral.ID) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	svc, ok := s.services[id]
	if !ok || svc.Network != network {
		return notFound("service", id)
	}
	delete(s.services, id)
	s.networks[network].services.remove(id)
	return nil
}

// PutPerson creates or replaces a person in an existing network.
func (s *Store) PutPerson(ctx context.Context, p referral.Person) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.network(p.Network); err != nil {
		return err
	}
	if old, ok := s.persons[p.ID]; ok && old.Network != p.Network {
		return conflict("person", p.ID, "belongs to another network")
	}
	s.persons[p.ID] = p.Clone()
	return nil
}

// GetPerson returns the person, or ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, network, id referral.ID) (referral.Person, error) {
	if err := live(ctx); err != nil {
		return referral.Person{}, err
	}
	s.mu.RLock()
	p, ok := s.persons[id]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return referral.Person{}, ErrClosed
	}
	if !ok || p.Network != network {
		return referral.Person{}, notFound("person", id)
	}
	return p.Clone(), nil
}

// PutConsent creates or replaces a consent; its person and grantee must exist in
// its network.
func (s *Store) PutConsent(ctx context.Context, c referral.Consent) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.network(c.Network); err != nil {
		return err
	}
	if p, ok := s.persons[c.Person]; !ok || p.Network != c.Network {
		return notFound("person", c.Person)
	}
	if o, ok := s.orgs[c.Grantee]; !ok || o.Network != c.Network {
		return notFound("organization", c.Grantee)
	}
	old, replacing := s.consents[c.ID]
	if replacing && old.Network != c.Network {
		return conflict("consent", c.ID, "belongs to another network")
	}
	if replacing && old.Person != c.Person {
		s.dropConsent(old)
	}
	s.consents[c.ID] = c
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
	return nil
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
	if err := live(ctx); err != nil {
		return referral.Consent{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return referral.Consent{}, ErrClosed
	}
	c, ok := s.consents[id]
	if !ok || c.Network != network {
		return referral.Consent{}, notFound("consent", id)
	}
	return c, nil
}

// ListConsents returns the person's consents in id order; none for an unknown
// person.
func (s *Store) ListConsents(ctx context.Context, network, person referral.ID) ([]referral.Consent, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []referral.Consent
	for _, c := range s.consentsOf[person] {
		if c.Network == network {
			out = append(out, c)
		}
	}
	return out, nil
}

// PutScreening stores an immutable screening result of an existing person.
func (s *Store) PutScreening(ctx context.Context, sc referral.Screening) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.network(sc.Network); err != nil {
		return err
	}
	if p, ok := s.persons[sc.Person]; !ok || p.Network != sc.Network {
		return notFound("person", sc.Person)
	}
	if _, ok := s.screenings[sc.ID]; ok {
		return conflict("screening", sc.ID, "already exists")
	}
	s.screenings[sc.ID] = sc.Clone()
	set(s.screeningsOf, sc.Person).insert(sc.ID)
	return nil
}

// GetScreening returns the screening, or ErrNotFound.
func (s *Store) GetScreening(ctx context.Context, network, id referral.ID) (referral.Screening, error) {
	if err := live(ctx); err != nil {
		return referral.Screening{}, err
	}
	s.mu.RLock()
	sc, ok := s.screenings[id]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return referral.Screening{}, ErrClosed
	}
	if !ok || sc.Network != network {
		return referral.Screening{}, notFound("screening", id)
	}
	return sc.Clone(), nil
}

// ListScreenings returns the person's screenings in id order; none for an unknown
// person.
func (s *Store) ListScreenings(ctx context.Context, network, person referral.ID) ([]referral.Screening, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []referral.Screening
	for id := range s.screeningsOf[person].all() {
		if sc := s.screenings[id]; sc.Network == network {
			out = append(out, sc.Clone())
		}
	}
	return out, nil
}
