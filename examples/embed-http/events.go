package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
)

// events streams the actor's event feed as server-sent events: each event is
// one frame whose id is its feed position, so a browser's EventSource (or any
// client) that reconnects with Last-Event-ID resumes exactly after the last
// event it got. ?after=N does the same for a first connection.
//
// lifecycle.Engine.Follow reads the feed from that position, filtered to what
// the actor may see, then waits for appends. It runs in its own goroutine and
// hands events over a channel, so that the handler's goroutine alone writes to
// the connection, events and heartbeats alike.
func (s *server) events(w http.ResponseWriter, r *http.Request, actor referral.Actor) error {
	after, err := resumePosition(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The stream lives as long as the client stays, but the server's
	// ReadTimeout and WriteTimeout (right for every other request) would cut
	// it: net/http cancels a request whose read deadline passes. Clear both
	// for this response.
	for _, clear := range []func(time.Time) error{rc.SetReadDeadline, rc.SetWriteDeadline} {
		if err := clear(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tells nginx-style proxies not to buffer
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil // the client is gone, or the writer cannot stream: nothing to say
	}

	// ctx ends when the client disconnects or this handler returns; either
	// stops Follow. wg makes sure it has stopped before the handler returns.
	ctx, cancel := context.WithCancel(r.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	feed := make(chan referral.Event)
	followErr := make(chan error, 1)
	wg.Go(func() {
		followErr <- s.engine.Follow(ctx, actor, after, func(ev referral.Event) error {
			select {
			case feed <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case ev := <-feed:
			if err := writeEvent(w, ev); err != nil {
				return nil
			}
		case <-heartbeat.C:
			// A comment line: clients ignore it, proxies see traffic.
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
		case err := <-followErr:
			// Follow only returns early on a failure (a store error); the
			// status line is long sent, so log it and end the stream. The
			// client reconnects with Last-Event-ID.
			if ctx.Err() == nil {
				s.log.ErrorContext(r.Context(), "event stream ended", "error", err.Error())
			}
			return nil
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// resumePosition is where the stream starts: after the Last-Event-ID a
// reconnecting client sends, else ?after=N, else the beginning of the feed.
func resumePosition(r *http.Request) (int64, error) {
	field, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		field, v = "after", r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, referral.Invalid(field, "must be a feed position (a whole number, 0 or more)")
	}
	return n, nil
}

// writeEvent writes one frame. json.Marshal output has no newlines, so the data
// fits on one data: line.
func writeEvent(w http.ResponseWriter, ev referral.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Position, ev.Type, data)
	return err
}
