package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// signer is a test identity provider's key.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

func newSigners(t *testing.T) (rsaKey, ecKey signer) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signer{"rsa-1", jwt.SigningMethodRS256, rk}, signer{"ec-1", jwt.SigningMethodES256, ek}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks renders the public keys as a JWK Set.
func jwks(t *testing.T, keys ...signer) []byte {
	t.Helper()
	var set []map[string]string
	for _, k := range keys {
		switch pub := k.key.Public().(type) {
		case *rsa.PublicKey:
			set = append(set, map[string]string{"kty": "RSA", "kid": k.kid, "alg": "RS256", "use": "sig",
				"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())})
		case *ecdsa.PublicKey:
			x, y := make([]byte, 32), make([]byte, 32)
			pub.X.FillBytes(x)
			pub.Y.FillBytes(y)
			set = append(set, map[string]string{"kty": "EC", "kid": k.kid, "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64(x), "y": b64(y)})
		}
	}
	data, err := json.Marshal(map[string]any{"keys": set})
	require.NoError(t, err)
	return data
}

const (
	testIssuer   = "https://id.example.org"
	testAudience = "refkit"
)

// mint signs a token for actor with k, claims edited by edit.
func mint(t *testing.T, k signer, actor referral.Actor, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": actor.User, "exp": now.Add(time.Hour).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"refkit_network": actor.Network.String(), "refkit_role": string(actor.Role),
	}
	if !actor.Organization.IsZero() {
		claims["refkit_organization"] = actor.Organization.String()
	}
	if !actor.Person.IsZero() {
		claims["refkit_person"] = actor.Person.String()
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	require.NoError(t, err)
	return s
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a serve process started in the test.
type running struct {
	base string
	log  *syncBuffer
	stop func() error
}

// startServe runs refkit serve with args (flags) on a free port.
func startServe(t *testing.T, client *http.Client, env map[string]string, args ...string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ready := make(chan string, 1)
	c := &serveCmd{getenv: func(k string) string { return env[k] }, listener: ln, jwksClient: client, ready: ready}
	fs := newFlagSet("serve", c)
	require.NoError(t, fs.Parse(args))
	log := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.run(ctx, nil, stdio{out: io.Discard, err: log}) }()
	select {
	case base := <-ready:
		r := &running{base: base, log: log}
		var once sync.Once
		var stopErr error
		r.stop = func() error {
			once.Do(func() { cancel(); stopErr = <-errc })
			return stopErr
		}
		t.Cleanup(func() { r.stop() })
		return r
	case err := <-errc:
		cancel()
		require.NoError(t, err, log.String())
		t.FailNow()
	}
	return nil
}

// call sends a request with a bearer token and returns the status and body.
func call(t *testing.T, base, token, method, path string, body any, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// TestServeLoop runs refkit serve on SQLite with keys from a JWKS URL, and
// two networks through the whole loop: tokens decide who is who, network b
// cannot see network a's referral, and bad tokens are 401.
func TestServeLoop(t *testing.T) {
	rsaKey, ecKey := newSigners(t)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks(t, rsaKey, ecKey))
	}))
	defer idp.Close()
	db := filepath.Join(t.TempDir(), "refkit.db")
	srv := startServe(t, idp.Client(), nil, "--db", db, "--jwks-url", idp.URL, "--issuer", testIssuer,
		"--audience", testAudience, "--sweep-interval", "50ms")

	ids := referral.NewIDGenerator(time.Now, nil)
	type net struct {
		id, clinic, pantry, person, service referral.ID
		admin, sender, receiver             string
	}
	nets := make([]net, 2)
	for i := range nets {
		n := net{id: ids.MustNew(), clinic: ids.MustNew(), pantry: ids.MustNew(), person: ids.MustNew(), service: ids.MustNew()}
		key := rsaKey
		if i == 1 {
			key = ecKey // each network's tokens signed with one of the two key types
		}
		n.admin = mint(t, key, referral.Actor{Network: n.id, Organization: n.clinic, User: "admin", Role: referral.RoleAdmin}, nil)
		n.sender = mint(t, key, referral.Actor{Network: n.id, Organization: n.clinic, User: "dr-lee", Role: referral.RoleStaff}, nil)
		n.receiver = mint(t, key, referral.Actor{Network: n.id, Organization: n.pantry, User: "intake", Role: referral.RoleStaff}, nil)
		nets[i] = n
	}
	must := func(want int, token, method, path string, body any, headers ...string) []byte {
		t.Helper()
		status, _, data := call(t, srv.base, token, method, path, body, headers...)
		require.Equal(t, want, status, "%s %s: %s", method, path, data)
		return data
	}
	var refs []referral.Referral
	for _, n := range nets {
		must(200, n.admin, "PUT", "/network", map[string]any{"name": "network"})
		must(200, n.admin, "PUT", "/organizations/"+n.clinic.String(), map[string]any{"name": "Clinic"})
		must(200, n.admin, "PUT", "/organizations/"+n.pantry.String(), map[string]any{"name": "Pantry"})
		must(200, n.sender, "PUT", "/persons/"+n.person.String(), map[string]any{"given_name": "Pat"})
		must(200, n.sender, "PUT", "/consents/"+ids.MustNew().String(), map[string]any{"person_id": n.person,
			"grantee_organization_id": n.pantry, "scope": "referral"})
		var ref referral.Referral
		require.NoError(t, json.Unmarshal(must(201, n.sender, "POST", "/referrals", map[string]any{"person_id": n.person,
			"receiver_organization_id": n.pantry, "send": true,
			"needs": []map[string]string{{"domain": "food-insecurity", "urgency": "routine"}}}, "Idempotency-Key", "k1"), &ref))
		path := "/referrals/" + ref.ID.String()
		for _, cmd := range []string{"acknowledge", "accept", "start"} {
			must(200, n.receiver, "POST", path+"/"+cmd, nil)
		}
		must(200, n.receiver, "POST", path+"/complete", map[string]any{"outcome": map[string]string{"code": "got-help"}}, "If-Match", `"4"`)
		refs = append(refs, ref)
	}
	// Network b cannot see network a's referral, whoever asks.
	for _, token := range []string{nets[1].admin, nets[1].sender, nets[1].receiver} {
		must(404, token, "GET", "/referrals/"+refs[0].ID.String(), nil)
	}
	must(200, nets[0].sender, "GET", "/referrals/"+refs[0].ID.String(), nil)

	// Tokens the server must refuse, each with 401.
	a := referral.Actor{Network: nets[0].id, Organization: nets[0].clinic, User: "dr-lee", Role: referral.RoleStaff}
	other, _ := newSigners(t)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "aud": testAudience,
		"exp": time.Now().Add(time.Hour).Unix(), "refkit_network": a.Network.String(), "refkit_role": "staff",
		"refkit_organization": a.Organization.String()})
	hs.Header["kid"] = "rsa-1"
	hsToken, err := hs.SignedString([]byte("shared secret"))
	require.NoError(t, err)
	refused := []struct {
		name  string
		token string
	}{
		{"expired beyond the leeway", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })},
		{"not yet valid", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })},
		{"no expiry", mint(t, rsaKey, a, func(c jwt.MapClaims) { delete(c, "exp") })},
		{"wrong issuer", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })},
		{"wrong audience", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["aud"] = "another-api" })},
		{"unknown key", mint(t, other, a, nil)},
		{"symmetric algorithm", hsToken},
		{"system role", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["refkit_role"] = "system" })},
		{"network not a uuid", mint(t, rsaKey, a, func(c jwt.MapClaims) { c["refkit_network"] = "county" })},
		{"staff without organization", mint(t, rsaKey, a, func(c jwt.MapClaims) { delete(c, "refkit_organization") })},
		{"garbage", "not.a.token"},
		{"too long", strings.Repeat("a", maxToken+1)},
	}
	for _, tc := range refused {
		status, h, body := call(t, srv.base, tc.token, "GET", "/network", nil)
		require.Equal(t, 401, status, "%s: %s", tc.name, body)
		require.Equal(t, `Bearer realm="refkit"`, h.Get("WWW-Authenticate"))
	}
	// Within the leeway an expired token still passes.
	must(200, mint(t, rsaKey, a, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() }), "GET", "/network", nil)

	must(200, "", "GET", "/healthz", nil)
	must(200, "", "GET", "/readyz", nil)
	must(200, "", "GET", "/openapi.json", nil)
	for _, m := range []string{"BREW", "PROPFIND"} {
		status, _, _ := call(t, srv.base, "", m, "/network", nil)
		require.Equal(t, 405, status)
	}
	metrics := string(must(200, "", "GET", "/metrics", nil))
	require.Contains(t, metrics, `http_request_method="_OTHER"`)
	require.NotContains(t, metrics, "BREW", "invented methods do not become series")
	require.Contains(t, metrics, `http_server_request_duration_seconds_count{`)
	require.Contains(t, metrics, `http_route="POST /referrals/{id}/accept"`)
	require.Contains(t, metrics, `refkit_sweep_runs_total{`)
	require.NotContains(t, metrics, refs[0].ID.String(), "no ids in metric attributes")

	// A library package instrumenting itself through the global
	// OpenTelemetry API (phase 2) shows up at /metrics with no change to serve.
	probe, err := otel.Meter("github.com/refkit/refkit/lifecycle").Int64Counter("refkit.library.probe")
	require.NoError(t, err)
	probe.Add(context.Background(), 1)
	require.Contains(t, string(must(200, "", "GET", "/metrics", nil)), "refkit_library_probe_total")

	require.NoError(t, srv.stop(), "a signal ends serve cleanly")
	logs := srv.log.String()
	require.Contains(t, logs, `"msg":"request"`)
	require.Contains(t, logs, `"route":"POST /referrals"`)
	require.Contains(t, logs, `"request_id":"`)
	require.Contains(t, logs, `"msg":"stopped"`)
	require.NotContains(t, logs, "Pat", "no personal data in the log")
	require.NotContains(t, logs, "got-help")
}

// TestServeShutdownEndsStreams: on shutdown, event streams end at once and
// /readyz stops answering ready; serve returns nil.
func TestServeShutdownEndsStreams(t *testing.T) {
	rsaKey, _ := newSigners(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "jwks.json")
	require.NoError(t, os.WriteFile(keys, jwks(t, rsaKey), 0o600))
	srv := startServe(t, nil, nil, "--db", filepath.Join(dir, "refkit.db"), "--jwks-file", keys, "--issuer", testIssuer,
		"--audience", testAudience, "--sweep-interval", "0", "--metrics=false", "--shutdown-grace", "5s")
	ids := referral.NewIDGenerator(time.Now, nil)
	token := mint(t, rsaKey, referral.Actor{Network: ids.MustNew(), Organization: ids.MustNew(), Role: referral.RoleAdmin}, nil)
	status, _, _ := call(t, srv.base, token, "PUT", "/network", map[string]any{"name": "n"})
	require.Equal(t, 200, status)
	status, _, _ = call(t, srv.base, "", "GET", "/metrics", nil)
	require.Equal(t, 404, status, "--metrics=false serves none")

	req, err := http.NewRequest("GET", srv.base+"/events/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	require.NoError(t, srv.stop())
	require.NoError(t, <-ended, "the stream ended cleanly, not cut")
	resp.Body.Close()
}

// fakeLeaser grants the lease to one holder at a time, as a shared database
// would.
type fakeLeaser struct {
	mu     sync.Mutex
	holder string
	err    error
}

func (f *fakeLeaser) Lease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return false, f.err
	}
	if name != sweepLease || ttl <= 0 {
		return false, referral.ErrInvalid
	}
	if f.holder == "" {
		f.holder = holder
	}
	return f.holder == holder, nil
}

// TestSweeperLease: of two sweepers sharing a leaser only the holder sweeps;
// without a leaser a sweeper always sweeps; a lease error sweeps nothing.
func TestSweeperLease(t *testing.T) {
	store := memory.New()
	defer store.Close()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock})
	require.NoError(t, err)
	shared := &fakeLeaser{}
	discard := slog.New(slog.DiscardHandler)
	newSweeper := func(l Leaser, holder string) *sweeper {
		return &sweeper{engine: engine, leaser: l, holder: holder, interval: time.Minute, now: clock, log: discard}
	}
	first, second := newSweeper(shared, "a"), newSweeper(shared, "b")
	tests := []struct {
		name string
		s    *sweeper
		want string
	}{
		{"the first takes the lease", first, "swept"},
		{"the second waits", second, "standby"},
		{"the first keeps it", first, "swept"},
		{"no leaser: sweep in-process", newSweeper(nil, "c"), "swept"},
		{"a lease that fails", newSweeper(&fakeLeaser{err: referral.ErrUnavailable}, "d"), "error"},
	}
	for _, tc := range tests {
		got, _ := tc.s.once(context.Background())
		require.Equal(t, tc.want, got, tc.name)
	}
	require.Nil(t, leaserOf(store), "the memory store has no lease: every process sweeps")
	require.Equal(t, shared, leaserOf(shared))
}

// TestServeConfigPrecedence: a flag beats its environment variable, which
// beats the config file, which beats the default; bad settings are errors.
func TestServeConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	network := "0190a6f0-8a4b-7c3d-9e2f-0000000000aa"
	file := filepath.Join(dir, "serve.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"addr": "127.0.0.1:1111", "db": "file.db", "leeway": "1m",
		"metrics": false, "max-body": 1024, "jwks-file": "keys.json", "issuer": "file-iss", "audience": "aud",
		"network-deadlines": {"`+network+`": {"acknowledge": "24h", "expire_after": "-1s"}}}`), 0o600))
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c serveConfig)
	}{
		{"defaults under the file", []string{"--config", file}, nil, func(t *testing.T, c serveConfig) {
			require.Equal(t, "127.0.0.1:1111", c.Addr)
			require.Equal(t, time.Minute, c.Leeway)
			require.False(t, c.Metrics)
			require.Equal(t, int64(1024), c.MaxBody)
			require.Equal(t, 30*time.Second, c.ReadTimeout, "a default the file does not set")
			require.Equal(t, lifecycle.Deadlines{Acknowledge: 24 * time.Hour, ExpireAfter: -time.Second},
				c.NetworkDeadlines[referral.MustParseID(network)])
		}},
		{"the environment beats the file", []string{"--config", file}, map[string]string{"REFKIT_ADDR": "127.0.0.1:2222", "REFKIT_METRICS": "true"},
			func(t *testing.T, c serveConfig) {
				require.Equal(t, "127.0.0.1:2222", c.Addr)
				require.True(t, c.Metrics)
				require.Equal(t, "file.db", c.DB)
			}},
		{"a flag beats the environment", []string{"--addr", "127.0.0.1:3333"},
			map[string]string{"REFKIT_CONFIG": file, "REFKIT_ADDR": "127.0.0.1:2222"},
			func(t *testing.T, c serveConfig) {
				require.Equal(t, "127.0.0.1:3333", c.Addr)
				require.Equal(t, "file-iss", c.Issuer, "REFKIT_CONFIG names the file")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &serveCmd{}
			fs := newFlagSet("serve", c)
			require.NoError(t, fs.Parse(tc.args))
			require.NoError(t, c.cfg.resolve(c.settings, func(k string) string { return tc.env[k] }))
			tc.check(t, c.cfg)
		})
	}

	base := []string{"--jwks-file", "k.json", "--issuer", "i", "--audience", "a"}
	bad := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"no keys", []string{"--issuer", "i", "--audience", "a"}, nil, "", "--jwks-url or --jwks-file"},
		{"no issuer", []string{"--jwks-file", "k", "--audience", "a"}, nil, "", "--issuer is required"},
		{"symmetric algorithm", append(base, "--algorithms", "HS256"), nil, "", `"HS256" is not an asymmetric`},
		{"bad env duration", base, map[string]string{"REFKIT_LEEWAY": "soon"}, "", "REFKIT_LEEWAY"},
		{"unknown file key", base, nil, `{"adr": "x"}`, `"adr" is not a serve setting`},
		{"file not an object", base, nil, `[1]`, "not a JSON object"},
		{"bad network id", base, nil, `{"network-deadlines": {"county": {"acknowledge": "1h"}}}`, "not a network id"},
		{"negative deadline", base, nil, `{"network-deadlines": {"` + network + `": {"accept": "-1h"}}}`, "accept"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				f := filepath.Join(t.TempDir(), "c.json")
				require.NoError(t, os.WriteFile(f, []byte(tc.file), 0o600))
				args = append(args, "--config", f)
			}
			c := &serveCmd{}
			fs := newFlagSet("serve", c)
			require.NoError(t, fs.Parse(args))
			err := c.cfg.resolve(c.settings, func(k string) string { return tc.env[k] })
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestServeDocs keeps docs/serve.md in step with the flags: every serve flag
// is named there.
func TestServeDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/serve.md")
	require.NoError(t, err)
	c := &serveCmd{}
	newFlagSet("serve", c).VisitAll(func(f *flag.Flag) {
		require.Contains(t, string(doc), "`--"+f.Name+"`", "docs/serve.md does not describe --%s", f.Name)
	})
}

// TestTokenCache: a verified token is remembered until it expires or for a
// minute, whichever is sooner, and the cache is bounded.
func TestTokenCache(t *testing.T) {
	rsaKey, _ := newSigners(t)
	file := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(file, jwks(t, rsaKey), 0o600))
	c := &serveCmd{}
	require.NoError(t, newFlagSet("serve", c).Parse([]string{"--jwks-file", file, "--issuer", testIssuer, "--audience", testAudience, "--leeway", "0s"}))
	require.NoError(t, c.cfg.resolve(c.settings, func(string) string { return "" }))
	at := time.Now()
	clock := func() time.Time { return at }
	auth, err := newTokenAuth(context.Background(), &c.cfg, nil, slog.New(slog.DiscardHandler), clock)
	require.NoError(t, err)
	ids := referral.NewIDGenerator(time.Now, nil)
	actor := referral.Actor{Network: ids.MustNew(), Organization: ids.MustNew(), Role: referral.RoleStaff, User: "u"}
	long := mint(t, rsaKey, actor, nil)
	short := mint(t, rsaKey, actor, func(c jwt.MapClaims) { c["exp"] = at.Add(10 * time.Second).Unix() })
	request := func(token string) *http.Request {
		r := httptest.NewRequest("GET", "/network", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	for _, tok := range []string{long, short} {
		got, err := auth.Authenticate(request(tok))
		require.NoError(t, err)
		require.Equal(t, actor, got)
	}
	// The keys are gone: cached tokens still pass, within their bounds.
	auth.keys = func(*jwt.Token) (any, error) { return nil, errors.New("no keys") }
	_, err = auth.Authenticate(request(long))
	require.NoError(t, err, "cached")
	at = at.Add(11 * time.Second)
	_, err = auth.Authenticate(request(short))
	require.ErrorIs(t, err, api.ErrUnauthenticated, "cached no longer than its exp")
	_, err = auth.Authenticate(request(long))
	require.NoError(t, err, "still within the minute")
	at = at.Add(time.Minute)
	_, err = auth.Authenticate(request(long))
	require.ErrorIs(t, err, api.ErrUnauthenticated, "verified again after a minute")

	cache := &tokenCache{m: map[[32]byte]cachedToken{}}
	for i := range tokenCacheSize + 10 {
		var k [32]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		cache.put(k, actor, at.Add(time.Hour))
	}
	require.Len(t, cache.m, tokenCacheSize)
}
