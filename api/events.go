package api

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

// feed answers a page of the event feed after a position, filtered to the
// referrals the caller may see.
func (h *Handler) feed(w http.ResponseWriter, r *http.Request, c *call) error {
	after, err := position(r.URL.Query().Get("after"), "after")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	events, err := h.engine.Feed(r.Context(), c.actor, after, limit)
	if err != nil {
		return err
	}
	last := after
	if n := len(events); n > 0 {
		last = events[n-1].Position
	}
	writeJSON(w, http.StatusOK, feedPage{Events: nonNil(events), Last: last})
	return nil
}

// position parses a feed position.
func position(v, field string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, referral.Invalid(field, "must be a feed position (a whole number, 0 or more)")
	}
	return n, nil
}

// stream follows the feed as server-sent events: one frame per event, its id
// the event's feed position, so a client (a browser's EventSource, or curl)
// that reconnects with Last-Event-ID resumes exactly after the last event it
// got. It ends when the client goes, when the store fails (the client
// reconnects), or when the host shuts down (Options.Done), which closes it
// cleanly at a frame boundary.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, c *call) error {
	field, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		field, v = "after", r.URL.Query().Get("after")
	}
	after, err := position(v, field)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The server's read and write timeouts, right for every other request,
	// would cut the stream: clear both for this response.
	for _, clear := range []func(time.Time) error{rc.SetReadDeadline, rc.SetWriteDeadline} {
		if err := clear(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", mediaSSE)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil
	}

	ctx, cancel := context.WithCancel(r.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	feed := make(chan referral.Event)
	followErr := make(chan error, 1)
	wg.Go(func() {
		followErr <- h.engine.Follow(ctx, c.actor, after, func(ev referral.Event) error {
			select {
			case feed <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case ev := <-feed:
			if err := writeEvent(w, ev); err != nil {
				return nil
			}
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
		case err := <-followErr:
			if ctx.Err() == nil {
				// The status line is long sent: record the failure for the
				// log and end the stream; the client reconnects.
				if st, ok := r.Context().Value(stateKey{}).(*state); ok {
					st.err, st.prob = err, "stream-ended"
				}
			}
			return nil
		case <-ctx.Done():
			return nil
		case <-h.done:
			// Tell the client to come back (to another instance) in a second.
			fmt.Fprint(w, "retry: 1000\n\n")
			_ = rc.Flush()
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// writeEvent writes one frame; json.Marshal output has no newlines, so the
// data fits on one data: line.
func writeEvent(w http.ResponseWriter, ev referral.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Position, ev.Type, data)
	return err
}
