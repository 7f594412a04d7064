package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/referral"
)

// maxToken bounds a bearer token: identity providers' tokens are a few
// kilobytes; anything larger is refused before it is parsed.
const maxToken = 8 << 10

// tokenAuth is the api.Authenticator of refkit serve: an OIDC/JWT bearer
// token, its signature checked against the identity provider's JWKS (with
// golang-jwt and keyfunc, not hand-written crypto), its issuer, audience,
// expiry and not-before checked with a small leeway, its algorithm in an
// allow-list of asymmetric ones, and its claims mapped to a referral.Actor.
type tokenAuth struct {
	keys   jwt.Keyfunc
	parser *jwt.Parser
	claims claimNames
	now    func() time.Time
	cache  *tokenCache
}

// A verified token is remembered, by its SHA-256, until it expires or for
// tokenCacheTTL, whichever is sooner: checking an ES256 signature costs
// about 80 µs, a tenth of a core at the request rates serve reaches, and a
// client sends the same token for many requests. The TTL bounds how long a
// key removed from the JWKS goes on being honoured for a token it signed.
const (
	tokenCacheTTL  = time.Minute
	tokenCacheSize = 10000
)

// tokenCache maps verified tokens to their actors.
type tokenCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	actor referral.Actor
	until time.Time
}

func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (referral.Actor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return referral.Actor{}, false
	}
	if !now.Before(e.until) {
		delete(c.m, key)
		return referral.Actor{}, false
	}
	return e.actor, true
}

func (c *tokenCache) put(key [sha256.Size]byte, actor referral.Actor, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= tokenCacheSize {
		// Any entry will do: an evicted token is verified again when next seen.
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = cachedToken{actor: actor, until: until}
}

// newTokenAuth loads the keys: from the JWKS file once, or from the JWKS URL
// with a background refresh that ends with ctx. client fetches the URL (nil
// uses a client with a 10-second timeout).
func newTokenAuth(ctx context.Context, cfg *serveConfig, client *http.Client, log *slog.Logger, now func() time.Time) (*tokenAuth, error) {
	var kf keyfunc.Keyfunc
	var err error
	if cfg.JWKSFile != "" {
		data, rerr := os.ReadFile(cfg.JWKSFile)
		if rerr != nil {
			return nil, fmt.Errorf("--jwks-file: %w", rerr)
		}
		kf, err = keyfunc.NewJWKSetJSON(json.RawMessage(data))
		if err != nil {
			return nil, errors.New("--jwks-file: not a JWK Set")
		}
	} else {
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		kf, err = keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client: client, HTTPTimeout: 10 * time.Second, RefreshInterval: cfg.JWKSRefresh,
			// A token with a key id not yet seen waits at most this long for a
			// refresh, so an unknown kid cannot hold requests.
			RateLimitWaitMax: time.Second,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					log.WarnContext(ctx, "jwks refresh failed", slog.String("error", err.Error()))
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("--jwks-url: %w", err)
		}
	}
	return &tokenAuth{
		keys: kf.Keyfunc,
		parser: jwt.NewParser(
			jwt.WithValidMethods(cfg.Algorithms), jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience),
			jwt.WithLeeway(cfg.Leeway), jwt.WithExpirationRequired(), jwt.WithTimeFunc(now),
		),
		claims: cfg.Claims,
		now:    now,
		cache:  &tokenCache{m: make(map[[sha256.Size]byte]cachedToken)},
	}, nil
}

// Authenticate maps a valid bearer token to its actor. Every refusal wraps
// api.ErrUnauthenticated; the reason (expired, wrong audience, bad
// signature, a missing claim) goes to the operator's log, never to the
// client. The system role is never granted: no HTTP caller is refkit's own
// automation.
func (a *tokenAuth) Authenticate(r *http.Request) (referral.Actor, error) {
	header := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return referral.Actor{}, fmt.Errorf("no bearer token: %w", api.ErrUnauthenticated)
	}
	if len(token) > maxToken {
		return referral.Actor{}, fmt.Errorf("bearer token longer than %d bytes: %w", maxToken, api.ErrUnauthenticated)
	}
	key := sha256.Sum256([]byte(token))
	now := a.now()
	if actor, ok := a.cache.get(key, now); ok {
		return actor, nil
	}
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(token, claims, a.keys); err != nil {
		return referral.Actor{}, fmt.Errorf("token refused: %s: %w", tokenReason(err), api.ErrUnauthenticated)
	}
	actor, err := a.actor(claims)
	if err != nil {
		return referral.Actor{}, err
	}
	until := now.Add(tokenCacheTTL)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && exp.Before(until) {
		until = exp.Time
	}
	a.cache.put(key, actor, until)
	return actor, nil
}

// tokenReason names why golang-jwt refused a token, by its sentinel errors,
// so nothing from the token itself reaches the log.
func tokenReason(err error) string {
	for _, r := range []struct {
		err  error
		what string
	}{
		{jwt.ErrTokenMalformed, "malformed"}, {jwt.ErrTokenUnverifiable, "unverifiable (unknown key or algorithm)"},
		{jwt.ErrTokenSignatureInvalid, "bad signature"}, {jwt.ErrTokenExpired, "expired"},
		{jwt.ErrTokenNotValidYet, "not valid yet"}, {jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"}, {jwt.ErrTokenRequiredClaimMissing, "a required claim is missing"},
		{jwt.ErrTokenUsedBeforeIssued, "used before issued"},
	} {
		if errors.Is(err, r.err) {
			return r.what
		}
	}
	return "invalid"
}

// actor reads the actor from the token's claims.
func (a *tokenAuth) actor(claims jwt.MapClaims) (referral.Actor, error) {
	text := func(name string) (string, error) {
		v, ok := claims[name]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("claim %s is not a string: %w", name, api.ErrUnauthenticated)
		}
		return s, nil
	}
	id := func(name string) (referral.ID, error) {
		s, err := text(name)
		if err != nil || s == "" {
			return referral.NilID, err
		}
		parsed, err := referral.ParseID(s)
		if err != nil {
			return referral.NilID, fmt.Errorf("claim %s is not a UUID: %w", name, api.ErrUnauthenticated)
		}
		return parsed, nil
	}
	var act referral.Actor
	var err error
	if act.Network, err = id(a.claims.Network); err != nil {
		return referral.Actor{}, err
	}
	if act.Organization, err = id(a.claims.Organization); err != nil {
		return referral.Actor{}, err
	}
	if act.Person, err = id(a.claims.Person); err != nil {
		return referral.Actor{}, err
	}
	if act.User, err = text(a.claims.User); err != nil {
		return referral.Actor{}, err
	}
	role, err := text(a.claims.Role)
	if err != nil {
		return referral.Actor{}, err
	}
	switch act.Role = referral.Role(role); act.Role {
	case referral.RoleStaff, referral.RoleAdmin, referral.RoleDelegate:
	default:
		return referral.Actor{}, fmt.Errorf("claim %s is not staff, admin or delegate: %w", a.claims.Role, api.ErrUnauthenticated)
	}
	if err := act.Validate(); err != nil {
		return referral.Actor{}, fmt.Errorf("the token's actor: %w: %w", err, api.ErrUnauthenticated)
	}
	return act, nil
}
