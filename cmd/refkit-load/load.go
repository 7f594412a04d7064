package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/refkit/refkit/referral"
)

// Bounds on a run, so it always stops by itself.
const (
	maxClients  = 512
	maxDuration = 10 * time.Minute
)

// loadConfig is one run's settings.
type loadConfig struct {
	base     string
	clients  int
	networks int
	duration time.Duration
	loops    int
	json     bool
	minter   minter
}

func runCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	load := minterFlags(fs)
	var c loadConfig
	fs.StringVar(&c.base, "base", "http://127.0.0.1:8080", "base URL of the refkit serve to load (a server on this machine)")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients, each running referral loops back to back")
	fs.IntVar(&c.networks, "networks", 2, "networks to spread the clients over")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to run (at most 10m)")
	fs.IntVar(&c.loops, "loops", 0, "stop each client after this many loops (0: run for --duration)")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.clients < 1 || c.clients > maxClients:
		return fmt.Errorf("--clients must be 1 to %d", maxClients)
	case c.networks < 1 || c.networks > c.clients:
		return errors.New("--networks must be 1 to --clients")
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("--duration must be above 0 and at most %s", maxDuration)
	case c.loops < 0:
		return errors.New("--loops must not be negative")
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--base must be an http(s) URL")
	}
	if c.minter, err = load(); err != nil {
		return err
	}
	rep, err := drive(ctx, c)
	if err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// client is one simulated user pair: a sender and a receiver in one network,
// with their own person.
type client struct {
	http             *http.Client
	base             string
	sender, receiver string
	person, pantry   referral.ID
	samples          map[string][]time.Duration
	errors           map[string]int
	loops            int
}

// drive sets the networks up and runs the clients.
func drive(ctx context.Context, c loadConfig) (*report, error) {
	transport := &http.Transport{MaxIdleConns: c.clients * 2, MaxIdleConnsPerHost: c.clients * 2, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	ids := referral.NewIDGenerator(time.Now, nil)
	clients := make([]*client, c.clients)
	for n := range c.networks {
		network, clinic, pantry := ids.MustNew(), ids.MustNew(), ids.MustNew()
		admin, err := c.minter.token(referral.Actor{Network: network, Organization: clinic, User: "load-admin", Role: referral.RoleAdmin})
		if err != nil {
			return nil, err
		}
		sender, err := c.minter.token(referral.Actor{Network: network, Organization: clinic, User: "load-sender", Role: referral.RoleStaff})
		if err != nil {
			return nil, err
		}
		receiver, err := c.minter.token(referral.Actor{Network: network, Organization: pantry, User: "load-receiver", Role: referral.RoleStaff})
		if err != nil {
			return nil, err
		}
		setup := &client{http: hc, base: c.base, samples: map[string][]time.Duration{}, errors: map[string]int{}}
		steps := []struct {
			token, method, path string
			body                any
		}{
			{admin, "PUT", "/network", map[string]any{"name": "load network " + strconv.Itoa(n)}},
			{admin, "PUT", "/organizations/" + clinic.String(), map[string]any{"name": "Load clinic"}},
			{admin, "PUT", "/organizations/" + pantry.String(), map[string]any{"name": "Load pantry"}},
		}
		for _, s := range steps {
			if _, err := setup.call(ctx, "setup", s.token, s.method, s.path, s.body, nil, 200); err != nil {
				return nil, fmt.Errorf("setting up network %d: %w", n, err)
			}
		}
		for i := n; i < c.clients; i += c.networks {
			cl := &client{http: hc, base: c.base, sender: sender, receiver: receiver, person: ids.MustNew(), pantry: pantry,
				samples: map[string][]time.Duration{}, errors: map[string]int{}}
			if _, err := cl.call(ctx, "setup", sender, "PUT", "/persons/"+cl.person.String(), map[string]any{"household_size": 1}, nil, 200); err != nil {
				return nil, fmt.Errorf("setting up a person: %w", err)
			}
			if _, err := cl.call(ctx, "setup", sender, "PUT", "/consents/"+ids.MustNew().String(), map[string]any{
				"person_id": cl.person, "grantee_organization_id": pantry, "scope": "referral"}, nil, 200); err != nil {
				return nil, fmt.Errorf("setting up a consent: %w", err)
			}
			clients[i] = cl
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() {
			for c.loops == 0 || cl.loops < c.loops {
				if runCtx.Err() != nil {
					return
				}
				cl.loop(runCtx)
			}
		})
	}
	wg.Wait()
	return summarise(clients, time.Since(start), c), nil
}

// loop runs one full referral loop; a failed step ends the loop (counted).
func (cl *client) loop(ctx context.Context) {
	var ref referral.Referral
	body := map[string]any{"person_id": cl.person, "receiver_organization_id": cl.pantry, "send": true,
		"needs": []map[string]string{{"domain": "food-insecurity", "urgency": "routine"}}}
	if _, err := cl.call(ctx, "POST /referrals", cl.sender, "POST", "/referrals", body, &ref, 201); err != nil {
		return
	}
	path := "/referrals/" + ref.ID.String()
	steps := []struct {
		token, cmd string
		body       any
	}{
		{cl.receiver, "acknowledge", nil},
		{cl.receiver, "accept", nil},
		{cl.receiver, "start", nil},
		{cl.receiver, "complete", map[string]any{"outcome": map[string]string{"code": "got-help"}}},
	}
	version := ref.Version
	for i, s := range steps {
		if i == 2 {
			if _, err := cl.call(ctx, "GET /referrals/{id}", cl.sender, "GET", path, nil, nil, 200); err != nil {
				return
			}
		}
		h, err := cl.call(ctx, "POST /referrals/{id}/"+s.cmd, s.token, "POST", path+"/"+s.cmd, s.body, nil, 200,
			"If-Match", `"`+strconv.FormatInt(version, 10)+`"`)
		if err != nil {
			return
		}
		version, _ = strconv.ParseInt(trimQuotes(h.Get("ETag")), 10, 64)
	}
	if _, err := cl.call(ctx, "GET /referrals/{id}/history", cl.sender, "GET", path+"/history", nil, nil, 200); err != nil {
		return
	}
	cl.loops++
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// call sends one request, timing it under label, and decodes the answer
// into out when want is the status.
func (cl *client) call(ctx context.Context, label, token, method, path string, body, out any, want int, headers ...string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := cl.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			cl.errors[label]++
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	elapsed := time.Since(start)
	if err != nil {
		cl.errors[label]++
		return nil, err
	}
	if resp.StatusCode != want {
		cl.errors[label]++
		return nil, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, data)
	}
	cl.samples[label] = append(cl.samples[label], elapsed)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, err
		}
	}
	return resp.Header, nil
}

// endpoint is one endpoint's figures.
type endpoint struct {
	Endpoint string  `json:"endpoint"`
	Count    int     `json:"count"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

// report is what a run measured.
type report struct {
	Clients    int        `json:"clients"`
	Networks   int        `json:"networks"`
	Seconds    float64    `json:"seconds"`
	Loops      int        `json:"loops"`
	Requests   int        `json:"requests"`
	Errors     int        `json:"errors"`
	RequestsPS float64    `json:"requests_per_second"`
	CommandsPS float64    `json:"lifecycle_commands_per_second"`
	CommandP50 float64    `json:"lifecycle_command_p50_ms"`
	CommandP99 float64    `json:"lifecycle_command_p99_ms"`
	ByEndpoint []endpoint `json:"endpoints"`
}

// isCommand reports whether an endpoint label is a lifecycle write: create
// or a command.
func isCommand(label string) bool {
	return label == "POST /referrals" || len(label) > len("POST /referrals/{id}/") && label[:len("POST /referrals/{id}/")] == "POST /referrals/{id}/"
}

func summarise(clients []*client, elapsed time.Duration, c loadConfig) *report {
	all := map[string][]time.Duration{}
	errs := map[string]int{}
	rep := &report{Clients: c.clients, Networks: c.networks, Seconds: elapsed.Seconds()}
	for _, cl := range clients {
		for label, ds := range cl.samples {
			if label != "setup" {
				all[label] = append(all[label], ds...)
			}
		}
		for label, n := range cl.errors {
			if label != "setup" {
				errs[label] += n
			}
		}
		rep.Loops += cl.loops
	}
	var commands []time.Duration
	labels := make([]string, 0, len(all))
	for l := range all {
		labels = append(labels, l)
	}
	for l := range errs {
		if _, ok := all[l]; !ok {
			labels = append(labels, l)
		}
	}
	sort.Strings(labels)
	for _, l := range labels {
		ds := all[l]
		slices.Sort(ds)
		rep.ByEndpoint = append(rep.ByEndpoint, endpoint{Endpoint: l, Count: len(ds), Errors: errs[l], P50ms: ms(pct(ds, 50)), P99ms: ms(pct(ds, 99))})
		rep.Requests += len(ds)
		rep.Errors += errs[l]
		if isCommand(l) {
			commands = append(commands, ds...)
		}
	}
	slices.Sort(commands)
	rep.RequestsPS = float64(rep.Requests) / elapsed.Seconds()
	rep.CommandsPS = float64(len(commands)) / elapsed.Seconds()
	rep.CommandP50, rep.CommandP99 = ms(pct(commands, 50)), ms(pct(commands, 99))
	return rep
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "%d clients over %d networks, %.1f s: %d loops, %d requests (%d errors)\n",
		r.Clients, r.Networks, r.Seconds, r.Loops, r.Requests, r.Errors)
	fmt.Fprintf(w, "%.0f requests/s; %.0f lifecycle commands/s (create + 4 commands per loop), p50 %.2f ms, p99 %.2f ms\n\n",
		r.RequestsPS, r.CommandsPS, r.CommandP50, r.CommandP99)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tcount\terrors\tp50 ms\tp99 ms\t")
	for _, e := range r.ByEndpoint {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t\n", e.Endpoint, e.Count, e.Errors, e.P50ms, e.P99ms)
	}
	tw.Flush()
}
