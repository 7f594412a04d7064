// Command embed-http shows how a host application exposes refkit over its own
// HTTP JSON API with nothing but net/http: screening, matching, referral
// commands, and the event feed as server-sent events.
//
//	go run ./examples/embed-http                         # SQLite in a temporary directory
//	go run ./examples/embed-http -db refkit.db -addr 127.0.0.1:8080
//
// refkit is a library: it owns no server, users or sessions. Everything in this
// directory is host code a reader is meant to copy and change. The one place
// that must change before real use is actor (identity.go): the example trusts
// request headers to say who is calling.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/refkit/refkit/storage/sqlite"
)

// shutdownGrace is how long in-flight requests get to finish once the process
// is asked to stop; event streams are ended at once (see server.done).
const shutdownGrace = 10 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	dbPath := flag.String("db", "", "SQLite database file to use and keep (default: a temporary file, removed at exit)")
	flag.Parse()

	// Ctrl-C and SIGTERM (what a container runtime sends) cancel ctx, which
	// starts the graceful shutdown in run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed-http:", err)
		os.Exit(1)
	}
	if err := run(ctx, ln, *dbPath, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "embed-http:", err)
		os.Exit(1)
	}
}

// run opens the store, seeds the example network, serves on ln until ctx is
// done, then shuts down gracefully. It takes a listener rather than an address
// so that a test can listen on port 0 and learn the port. Progress and the curl
// session go to stderr.
func run(ctx context.Context, ln net.Listener, dbPath string, stderr io.Writer) error {
	defer ln.Close()
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "refkit-embed-http-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "refkit.db")
	}
	store, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := seed(ctx, store); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	// Event streams outlive any sensible shutdown grace, so they are told to end
	// when shutdown starts rather than waited for.
	streamsDone := make(chan struct{})
	log := slog.New(slog.NewTextHandler(stderr, nil))
	handler, err := newServer(ctx, config{Store: store, Network: seeded.Network, Log: log, Done: streamsDone})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: handler,
		// Slow or idle clients must not hold connections forever. The event
		// stream clears the read and write deadlines for itself.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(streamsDone) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	printSession(stderr, "http://"+ln.Addr().String())

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
