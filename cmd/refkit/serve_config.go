package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// A serve setting comes from, in order of precedence, its flag, its
// environment variable (REFKIT_ and the flag's name in upper case with
// underscores: --jwks-url is REFKIT_JWKS_URL), the config file (a JSON object
// keyed by flag name), or its default.

// setting is one serve setting: a flag.Value that remembers whether the
// command line set it.
type setting struct {
	name   string
	usage  string
	value  string
	parse  func(string) error
	setCLI bool
}

func (s *setting) String() string {
	if s == nil {
		return ""
	}
	return s.value
}

func (s *setting) Set(v string) error {
	if err := s.parse(v); err != nil {
		return err
	}
	s.value, s.setCLI = v, true
	return nil
}

// env is the setting's environment variable.
func (s *setting) env() string {
	return "REFKIT_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

// serveConfig is every serve setting, parsed.
type serveConfig struct {
	Addr       string
	DB         string
	Postgres   string
	PGSchema   string
	PGConns    int32
	ConfigFile string

	JWKSURL, JWKSFile string
	JWKSRefresh       time.Duration
	Issuer            string
	Audience          string
	Algorithms        []string
	Leeway            time.Duration
	Claims            claimNames

	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, ShutdownGrace time.Duration
	MaxBody                                                                  int64
	Heartbeat, IndexMaxAge                                                   time.Duration

	SweepInterval    time.Duration
	Deadlines        lifecycle.Deadlines
	NetworkDeadlines map[referral.ID]lifecycle.Deadlines
	ImpliedConsent   bool

	LogLevel string
	Metrics  bool
}

// claimNames are the token claims an actor is read from.
type claimNames struct {
	Network, Organization, Role, Person, User string
}

// settings binds the settings to c, with their defaults; the order is the
// help's.
func (c *serveConfig) settings() []*setting {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	dur := func(p *time.Duration, field string) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("%s: want a duration such as 30s or 72h, not negative", field)
			}
			*p = d
			return nil
		}
	}
	boolean := func(p *bool) func(string) error {
		return func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("want true or false")
			}
			*p = b
			return nil
		}
	}
	list := func(p *[]string) func(string) error {
		return func(v string) error {
			*p = nil
			for part := range strings.SplitSeq(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					*p = append(*p, part)
				}
			}
			return nil
		}
	}
	s := []*setting{
		{name: "addr", value: "127.0.0.1:8080", usage: "`ADDRESS` to listen on (host:port; port 0 picks a free one)", parse: str(&c.Addr)},
		{name: "db", value: "refkit.db", usage: "SQLite database `FILE` (the default store; created and migrated if new)", parse: str(&c.DB)},
		{name: "postgres", usage: "PostgreSQL `URL` to use instead of --db (postgres://user@host/db)", parse: str(&c.Postgres)},
		{name: "postgres-schema", usage: "PostgreSQL `SCHEMA` for the tables (created if missing; default: the connection's search_path)", parse: str(&c.PGSchema)},
		{name: "postgres-max-conns", value: "0", usage: "largest PostgreSQL connection pool (`N`; 0: pgxpool's default, the larger of 4 and the CPU count)", parse: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				return errors.New("want a whole number, 0 or more")
			}
			c.PGConns = int32(n)
			return nil
		}},
		{name: "config", usage: "JSON config `FILE` keyed by flag name; flags and REFKIT_ variables override it", parse: str(&c.ConfigFile)},
		{name: "jwks-url", usage: "`URL` of the identity provider's JWKS (the keys that sign tokens), refreshed in the background", parse: str(&c.JWKSURL)},
		{name: "jwks-file", usage: "JWKS `FILE` to use instead of --jwks-url", parse: str(&c.JWKSFile)},
		{name: "jwks-refresh", value: "15m", usage: "how often to re-read --jwks-url (`DURATION`)", parse: dur(&c.JWKSRefresh, "jwks-refresh")},
		{name: "issuer", usage: "required token issuer (`ISS`)", parse: str(&c.Issuer)},
		{name: "audience", usage: "required token audience (`AUD`)", parse: str(&c.Audience)},
		{name: "algorithms", value: "RS256,ES256", usage: "signing `ALGS` accepted, comma-separated (RS256, RS384, RS512, PS256, ES256, ES384, EdDSA...)", parse: list(&c.Algorithms)},
		{name: "leeway", value: "30s", usage: "clock skew allowed on exp and nbf (`DURATION`)", parse: dur(&c.Leeway, "leeway")},
		{name: "claim-network", value: "refkit_network", usage: "token `CLAIM` holding the network id", parse: str(&c.Claims.Network)},
		{name: "claim-organization", value: "refkit_organization", usage: "token `CLAIM` holding the organization id (staff and admins)", parse: str(&c.Claims.Organization)},
		{name: "claim-role", value: "refkit_role", usage: "token `CLAIM` holding the role: staff, admin or delegate", parse: str(&c.Claims.Role)},
		{name: "claim-person", value: "refkit_person", usage: "token `CLAIM` holding the person id a delegate acts for", parse: str(&c.Claims.Person)},
		{name: "claim-user", value: "sub", usage: "token `CLAIM` naming the user (recorded on events)", parse: str(&c.Claims.User)},
		{name: "read-header-timeout", value: "5s", usage: "time to read a request's headers (`DURATION`)", parse: dur(&c.ReadHeaderTimeout, "read-header-timeout")},
		{name: "read-timeout", value: "30s", usage: "time to read a whole request (`DURATION`)", parse: dur(&c.ReadTimeout, "read-timeout")},
		{name: "write-timeout", value: "30s", usage: "time to write a response (`DURATION`; event streams are exempt)", parse: dur(&c.WriteTimeout, "write-timeout")},
		{name: "idle-timeout", value: "2m", usage: "how long an idle keep-alive connection stays open (`DURATION`)", parse: dur(&c.IdleTimeout, "idle-timeout")},
		{name: "shutdown-grace", value: "10s", usage: "how long in-flight requests get to finish on SIGTERM or SIGINT (`DURATION`)", parse: dur(&c.ShutdownGrace, "shutdown-grace")},
		{name: "max-body", value: "262144", usage: "largest request body in `BYTES`", parse: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return errors.New("want a positive number of bytes")
			}
			c.MaxBody = n
			return nil
		}},
		{name: "heartbeat", value: "15s", usage: "comment line interval on idle event streams (`DURATION`)", parse: dur(&c.Heartbeat, "heartbeat")},
		{name: "index-max-age", value: "30s", usage: "how long a network's matching index is reused before it is rebuilt from the store (`DURATION`)", parse: dur(&c.IndexMaxAge, "index-max-age")},
		{name: "sweep-interval", value: "1m", usage: "how often the deadline sweep runs (`DURATION`; 0 turns it off)", parse: dur(&c.SweepInterval, "sweep-interval")},
		{name: "acknowledge-within", value: "72h", usage: "default time a receiver has to acknowledge a sent referral (`DURATION`; 0 none)", parse: dur(&c.Deadlines.Acknowledge, "acknowledge-within")},
		{name: "accept-within", value: "168h", usage: "default time a receiver has to accept or decline (`DURATION`; 0 none)", parse: dur(&c.Deadlines.Accept, "accept-within")},
		{name: "expire-after", value: "168h", usage: "grace after a missed deadline before the sweep expires the referral (`DURATION`)", parse: dur(&c.Deadlines.ExpireAfter, "expire-after")},
		{name: "implied-consent", value: "false", usage: "sending needs no recorded consent (a treatment relationship implies it)", parse: boolean(&c.ImpliedConsent)},
		{name: "log-level", value: "info", usage: "`LEVEL` of the JSON log on standard error: debug, info, warn or error", parse: func(v string) error {
			if !slices.Contains([]string{"debug", "info", "warn", "error"}, v) {
				return errors.New("want debug, info, warn or error")
			}
			c.LogLevel = v
			return nil
		}},
		{name: "metrics", value: "true", usage: "serve Prometheus metrics at /metrics", parse: boolean(&c.Metrics)},
	}
	for _, st := range s {
		if st.value != "" {
			// Defaults are constants that parse.
			if err := st.parse(st.value); err != nil {
				panic("refkit serve: default of --" + st.name + ": " + err.Error())
			}
		}
	}
	return s
}

// boolFlag makes flag parse "--metrics" alone as true.
type boolSetting struct{ *setting }

func (b boolSetting) IsBoolFlag() bool { return true }

// resolve applies the environment and the config file under the settings the
// command line set, then checks the whole.
func (c *serveConfig) resolve(settings []*setting, getenv func(string) string) error {
	byName := map[string]*setting{}
	for _, s := range settings {
		byName[s.name] = s
	}
	// The config file may itself come from the environment.
	if cf := byName["config"]; !cf.setCLI {
		if v := getenv(cf.env()); v != "" {
			if err := cf.parse(v); err != nil {
				return fmt.Errorf("%s: %w", cf.env(), err)
			}
		}
	}
	if c.ConfigFile != "" {
		if err := c.loadFile(byName); err != nil {
			return err
		}
	}
	for _, s := range settings {
		if s.setCLI || s.name == "config" {
			continue
		}
		if v, ok := lookupEnv(getenv, s.env()); ok {
			if err := s.parse(v); err != nil {
				return fmt.Errorf("%s: %w", s.env(), err)
			}
		}
	}
	// The command line wins: parse its values again over the others.
	for _, s := range settings {
		if s.setCLI {
			if err := s.parse(s.value); err != nil {
				return fmt.Errorf("--%s: %w", s.name, err)
			}
		}
	}
	return c.check()
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// maxConfigFile bounds the config file: settings and per-network deadlines
// fit in a few kilobytes.
const maxConfigFile = 1 << 20

// loadFile reads the JSON config file: an object whose keys are flag names,
// with string, number or boolean values, and "network-deadlines", an object
// mapping network ids to {"acknowledge", "accept", "expire_after"} durations.
// An unknown key is an error, so a typo is not silently ignored.
func (c *serveConfig) loadFile(byName map[string]*setting) error {
	data, err := os.ReadFile(c.ConfigFile)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if len(data) > maxConfigFile {
		return fmt.Errorf("config file: larger than %d bytes", maxConfigFile)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return errors.New("config file: not a JSON object")
	}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		v := raw[key]
		if key == "network-deadlines" {
			if err := c.loadDeadlines(v); err != nil {
				return fmt.Errorf("config file: network-deadlines: %w", err)
			}
			continue
		}
		s, ok := byName[key]
		if !ok || key == "config" {
			return fmt.Errorf("config file: %q is not a serve setting", key)
		}
		var text string
		var scalar any
		if err := json.Unmarshal(v, &scalar); err != nil {
			return fmt.Errorf("config file: %s: not a JSON value", key)
		}
		switch x := scalar.(type) {
		case string:
			text = x
		case bool:
			text = strconv.FormatBool(x)
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return fmt.Errorf("config file: %s: want a string, number or boolean", key)
		}
		if s.setCLI {
			continue
		}
		if err := s.parse(text); err != nil {
			return fmt.Errorf("config file: %s: %w", key, err)
		}
	}
	return nil
}

// fileDeadlines is one network's entry in network-deadlines.
type fileDeadlines struct {
	Acknowledge string `json:"acknowledge"`
	Accept      string `json:"accept"`
	ExpireAfter string `json:"expire_after"`
}

func (c *serveConfig) loadDeadlines(v json.RawMessage) error {
	var entries map[string]fileDeadlines
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return errors.New(`want {"NETWORK-ID": {"acknowledge": "24h", "accept": "72h", "expire_after": "48h"}}`)
	}
	c.NetworkDeadlines = map[referral.ID]lifecycle.Deadlines{}
	for key, e := range entries {
		id, err := referral.ParseID(key)
		if err != nil {
			return errors.New("a key is not a network id")
		}
		var d lifecycle.Deadlines
		for _, f := range []struct {
			text string
			into *time.Duration
			name string
		}{{e.Acknowledge, &d.Acknowledge, "acknowledge"}, {e.Accept, &d.Accept, "accept"}, {e.ExpireAfter, &d.ExpireAfter, "expire_after"}} {
			if f.text == "" {
				continue
			}
			dd, err := time.ParseDuration(f.text)
			if err != nil || (dd < 0 && f.name != "expire_after") {
				return fmt.Errorf("%s: %s: want a duration such as 24h", id, f.name)
			}
			*f.into = dd
		}
		c.NetworkDeadlines[id] = d
	}
	return nil
}

// check refuses settings that cannot work together.
func (c *serveConfig) check() error {
	switch {
	case c.JWKSURL == "" && c.JWKSFile == "":
		return errors.New("say where the token signing keys are: --jwks-url or --jwks-file")
	case c.JWKSURL != "" && c.JWKSFile != "":
		return errors.New("give --jwks-url or --jwks-file, not both")
	case c.Issuer == "":
		return errors.New("--issuer is required: tokens from any other issuer are refused")
	case c.Audience == "":
		return errors.New("--audience is required: tokens for any other audience are refused")
	case len(c.Algorithms) == 0:
		return errors.New("--algorithms names no algorithm")
	}
	for _, alg := range c.Algorithms {
		if !slices.Contains(allowedAlgorithms, alg) {
			return fmt.Errorf("--algorithms: %q is not an asymmetric signing algorithm refkit accepts", alg)
		}
	}
	for _, name := range []string{c.Claims.Network, c.Claims.Organization, c.Claims.Role, c.Claims.Person, c.Claims.User} {
		if name == "" {
			return errors.New("claim names must not be empty")
		}
	}
	return nil
}

// allowedAlgorithms are the JWS algorithms --algorithms may name: asymmetric
// ones only, so a token can never be signed with a shared secret (or none).
var allowedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// bind defines the settings as flags of fs.
func bind(fs *flag.FlagSet, settings []*setting) {
	for _, s := range settings {
		usage := s.usage + " [" + s.env() + "]"
		if s.value == "true" || s.value == "false" {
			fs.Var(boolSetting{s}, s.name, usage)
			continue
		}
		fs.Var(s, s.name, usage)
	}
}
