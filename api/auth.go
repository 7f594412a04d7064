package api

import (
	"context"
	"net/http"

	"github.com/refkit/refkit/referral"
)

// Authenticator says who makes a request: the seam between the API and the
// host's identity system (OIDC bearer tokens in refkit serve, a session
// cookie or mutual TLS in another host). It returns the referral.Actor every
// refkit command and query takes. A request without acceptable credentials
// is an error wrapping ErrUnauthenticated (401); a failure to check them now
// (the identity provider's keys cannot be fetched, say) wraps
// referral.ErrUnavailable (503). The API validates the actor it gets
// (referral.Actor.Validate; an invalid one is 401) and trusts it otherwise:
// the network, organization, role and person are whatever the
// Authenticator vouches for.
type Authenticator interface {
	Authenticate(r *http.Request) (referral.Actor, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (referral.Actor, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (referral.Actor, error) { return f(r) }

type actorKey struct{}

// ActorFrom returns the actor the API authenticated for the request whose
// context ctx is, for handlers mounted behind it (Options.Directory).
func ActorFrom(ctx context.Context) (referral.Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(referral.Actor)
	return a, ok
}
