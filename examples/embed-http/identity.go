package main

import (
	"errors"
	"net/http"

	"github.com/refkit/refkit/referral"
)

// Identity headers. They exist only in this example; see actor.
const (
	headerOrganization = "Refkit-Organization"
	headerUser         = "Refkit-User"
	headerRole         = "Refkit-Role"
	headerPerson       = "Refkit-Person"
)

// errUnauthenticated means the request did not say, in a way we accept, who is
// making it. writeError answers it with 401.
var errUnauthenticated = errors.New("who is calling is missing or not accepted")

// actor says who is making the request, as the referral.Actor every refkit
// command and query takes.
//
// ┌──────────────────────────────────────────────────────────────────────────┐
// │ THIS IS WHERE A HOST PLUGS IN ITS OWN AUTHENTICATION.                    │
// │                                                                          │
// │ The example trusts request headers, so anyone who can reach the port can │
// │ act as any organization. A real host replaces the body of this function: │
// │ verify a session cookie, an OAuth 2.0 / OpenID Connect bearer token, or  │
// │ an mTLS client certificate, then look the user up in its own records and │
// │ map them to their organization and role. refkit trusts the Actor it is   │
// │ given: it checks what an actor may see and do, never who the caller is.  │
// └──────────────────────────────────────────────────────────────────────────┘
//
// The network is the server's, never the caller's to choose: one deployment
// serves one network here, and nothing in refkit crosses networks.
func (s *server) actor(r *http.Request) (referral.Actor, error) {
	a := referral.Actor{
		Network: s.network,
		User:    r.Header.Get(headerUser),
		Role:    referral.Role(r.Header.Get(headerRole)),
	}
	// The system role is the host's own automation (deadline sweeps, imports);
	// no HTTP caller is granted it.
	if a.User == "" || a.Role == "" || a.Role == referral.RoleSystem {
		return referral.Actor{}, errUnauthenticated
	}
	for _, h := range []struct {
		name string
		id   *referral.ID
	}{{headerOrganization, &a.Organization}, {headerPerson, &a.Person}} {
		if v := r.Header.Get(h.name); v != "" {
			id, err := referral.ParseID(v)
			if err != nil {
				return referral.Actor{}, errUnauthenticated
			}
			*h.id = id
		}
	}
	if err := a.Validate(); err != nil {
		return referral.Actor{}, errUnauthenticated
	}
	// The organization or person must be one of the network's. With real
	// authentication this is the lookup of the user's record.
	var err error
	switch a.Role {
	case referral.RoleStaff, referral.RoleAdmin:
		_, err = s.store.GetOrganization(r.Context(), a.Network, a.Organization)
	case referral.RoleDelegate:
		_, err = s.store.GetPerson(r.Context(), a.Network, a.Person)
	}
	switch {
	case errors.Is(err, referral.ErrNotFound):
		return referral.Actor{}, errUnauthenticated
	case err != nil:
		return referral.Actor{}, err
	}
	return a, nil
}
