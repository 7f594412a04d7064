package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// frame is one server-sent event.
type frame struct {
	id    int64
	event string
	data  referral.Event
}

// readFrames reads n event frames (skipping heartbeats) from a stream.
func readFrames(t *testing.T, sc *bufio.Scanner, n int) []frame {
	t.Helper()
	var out []frame
	var cur frame
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id, err := strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			require.NoError(t, err)
			cur.id = id
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data))
		case line == "" && cur.id != 0:
			out = append(out, cur)
			cur = frame{}
		}
	}
	require.Len(t, out, n, "the stream ended early: %v", sc.Err())
	return out
}

// TestEventStream: the feed as server-sent events, resumable with
// Last-Event-ID, filtered to what the actor may see, and closed cleanly when
// the host shuts down.
func TestEventStream(t *testing.T) {
	hs := newHarness(t)
	a, b := hs.newNetwork("a"), hs.newNetwork("b")
	hs.seed(a)
	hs.seed(b)
	srv := httptest.NewServer(hs.h)
	defer srv.Close()
	needs := []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}
	var ref referral.Referral
	hs.must(201, a.sender, "POST", "/referrals", map[string]any{"person_id": a.person, "receiver_organization_id": a.foodbank, "needs": needs, "send": true}).decode(t, &ref)
	hs.must(200, a.receiver, "POST", "/referrals/"+ref.ID.String()+"/acknowledge", nil)

	open := func(as string, headers ...string) (*http.Response, *bufio.Scanner) {
		req, err := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/events/stream", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+as)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		return resp, bufio.NewScanner(resp.Body)
	}

	resp, sc := open(a.receiver)
	first := readFrames(t, sc, 2)
	require.Equal(t, []string{"created", "acknowledged"}, []string{first[0].event, first[1].event})
	require.Equal(t, ref.ID, first[1].data.Referral)
	// A new event reaches the open stream.
	hs.must(200, a.receiver, "POST", "/referrals/"+ref.ID.String()+"/accept", nil)
	require.Equal(t, "accepted", readFrames(t, sc, 1)[0].event)
	resp.Body.Close()

	// Resuming after the first event replays the rest, and only the rest.
	resp, sc = open(a.sender, "Last-Event-ID", strconv.FormatInt(first[0].id, 10))
	resumed := readFrames(t, sc, 2)
	require.Equal(t, []string{"acknowledged", "accepted"}, []string{resumed[0].event, resumed[1].event})

	// Shutting down ends the stream cleanly.
	close(hs.done)
	for sc.Scan() {
	}
	require.NoError(t, sc.Err())
	resp.Body.Close()

	// Another network's stream sees none of it; a bad cursor is a problem.
	hs.must(400, b.sender, "GET", "/events/stream?after=-1", nil)
	hs.must(503, "", "GET", "/readyz", nil)
}
