package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/refkit/refkit/api"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve the referral API over HTTP, for many networks, on SQLite or PostgreSQL",
		args:    "--issuer ISS --audience AUD (--jwks-url URL | --jwks-file FILE) [--db FILE | --postgres URL] [flags]",
		about: `Serve runs the refkit HTTP API (package api) for every network in one store:
the SQLite file --db (the default) or the PostgreSQL database --postgres. Callers
authenticate with OIDC bearer tokens (JWTs) signed by the keys in --jwks-url or
--jwks-file, from --issuer for --audience; the token's claims name the caller's
network, organization, role (staff, admin or delegate) and, for a delegate, the
person. The OpenAPI document is at /openapi.json, liveness at /healthz,
readiness at /readyz (store reachable, schema current), Prometheus metrics at
/metrics. The deadline sweep runs every --sweep-interval; when several serve
processes share a PostgreSQL database with a lease, only one sweeps.

Every flag can also be set by its REFKIT_ environment variable (shown with it)
or in the JSON --config file, keyed by flag name, which also holds per-network
deadlines ("network-deadlines"); a flag beats its variable, which beats the
file, which beats the default. Logs are JSON lines on standard error, with
request ids and no personal data. SIGTERM or SIGINT drains in-flight requests
for --shutdown-grace and ends event streams cleanly. docs/serve.md has a sample
token setup.`,
		examples: []string{
			"refkit serve --db refkit.db --issuer https://id.example.org --audience refkit --jwks-url https://id.example.org/jwks.json",
			"refkit serve --postgres postgres://refkit@db/refkit --config serve.json --addr 0.0.0.0:8080",
			"refkit serve --jwks-file jwks.json --issuer https://id.example.org --audience refkit --sweep-interval 30s --log-level debug",
		},
		new: func() runner { return &serveCmd{getenv: os.Getenv} },
	})
}

// serveCmd is one run of refkit serve. Tests set listener, jwksClient and
// ready.
type serveCmd struct {
	cfg      serveConfig
	settings []*setting
	getenv   func(string) string

	// listener, when set, is served instead of listening on --addr.
	listener net.Listener
	// jwksClient fetches --jwks-url; nil uses a default client.
	jwksClient *http.Client
	// ready, when set, receives the base URL once serving.
	ready chan<- string
	// now is the clock; nil uses time.Now.
	now func() time.Time
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	c.settings = c.cfg.settings()
	bind(fs, c.settings)
}

func (c *serveCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if err := c.cfg.resolve(c.settings, c.getenv); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return c.serve(ctx, std.err)
}

// levels maps --log-level to slog levels.
var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// serve runs the server until ctx ends, then shuts it down gracefully.
func (c *serveCmd) serve(ctx context.Context, logOut io.Writer) error {
	cfg := &c.cfg
	now := c.now
	if now == nil {
		now = time.Now
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: levels[cfg.LogLevel]}))

	store, backend, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	engine, err := lifecycle.New(store, store, lifecycle.Options{
		Now: now, Deadlines: cfg.Deadlines, NetworkDeadlines: cfg.NetworkDeadlines,
		ImpliedConsent: cfg.ImpliedConsent, Logger: log,
	})
	if err != nil {
		return err
	}
	var tel *telemetry
	if cfg.Metrics {
		if tel, err = newTelemetry(); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer tel.shutdown(context.Background())
	}
	// The JWKS refresh lives as long as the server.
	authCtx, stopAuth := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAuth()
	auth, err := newTokenAuth(authCtx, cfg, c.jwksClient, log, now)
	if err != nil {
		return err
	}

	done := make(chan struct{})
	handler, err := api.New(store, engine, api.Options{
		Authenticator: auth, Now: now, MaxBody: cfg.MaxBody, Heartbeat: cfg.Heartbeat,
		IndexMaxAge: cfg.IndexMaxAge, Done: done,
		Observe: func(ctx context.Context, info api.RequestInfo) {
			level := slog.LevelInfo
			if info.Status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(ctx, level, "request", info.LogAttrs()...)
			if tel != nil {
				tel.request(ctx, info)
			}
		},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", handler)
	if tel != nil {
		mux.Handle("GET /metrics", tel.handler)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln := c.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return err
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("serving", slog.String("addr", ln.Addr().String()), slog.String("store", backend),
		slog.Bool("metrics", tel != nil), slog.Duration("sweep_interval", cfg.SweepInterval))
	if c.ready != nil {
		c.ready <- base
	}

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	var sweeps sync.WaitGroup
	if cfg.SweepInterval > 0 {
		s := &sweeper{engine: engine, leaser: leaserOf(store), holder: holderName(), interval: cfg.SweepInterval,
			now: now, log: log, tel: tel}
		sweeps.Go(func() { s.run(sweepCtx) })
	}

	select {
	case err = <-serveErr:
		stopSweep()
		sweeps.Wait()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("grace", cfg.ShutdownGrace))
	// Readiness fails and event streams end first, so load balancers stop
	// sending and streaming clients reconnect elsewhere; then in-flight
	// requests get the grace to finish.
	close(done)
	stopSweep()
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	shutdownErr := srv.Shutdown(graceCtx)
	sweeps.Wait()
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	log.Info("stopped")
	return nil
}

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *serveConfig) (storage.Store, string, error) {
	if cfg.Postgres != "" {
		s, err := postgres.Open(ctx, cfg.Postgres, postgres.Options{Schema: cfg.PGSchema, MaxConns: cfg.PGConns})
		if err != nil {
			return nil, "", fmt.Errorf("postgres: %w", err)
		}
		return s, "postgres", nil
	}
	s, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("sqlite %s: %w", cfg.DB, err)
	}
	return s, "sqlite", nil
}

// holderName names this process for the sweep lease: host, pid and a random
// suffix, so two processes never share a name.
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
