// Command custom-rules shows eligibility rules as a community-based
// organization writes them: checked before they go live, loaded with a small
// service directory (services.json beside this file), and explained when they
// decide who a service can help.
//
// It prints, in order: rule drafts a staffer typed, each with the error an editor
// would show; what matching.New says about a directory holding a bad rule; and
// three fictional people matched against the valid directory, with every
// excluded service's reasons.
//
//	go run ./examples/custom-rules [-services FILE]
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// The directory is embedded so that `go run` works from any directory;
// -services lets a host try its own file with the same program.
//
//go:embed services.json
var servicesJSON []byte

func main() {
	path := flag.String("services", "", "service directory to use instead of the embedded services.json")
	flag.Parse()
	data := servicesJSON
	if *path != "" {
		var err error
		if data, err = os.ReadFile(*path); err != nil {
			fmt.Fprintln(os.Stderr, "custom-rules:", err)
			os.Exit(1)
		}
	}
	if err := run(context.Background(), os.Stdout, data); err != nil {
		fmt.Fprintln(os.Stderr, "custom-rules:", err)
		os.Exit(1)
	}
}

// asOf is the example's fixed clock: ages and the poverty guideline in force are
// computed at this time, so every run prints the same.
var asOf = time.Date(2026, time.March, 2, 15, 0, 0, 0, time.UTC)

func run(ctx context.Context, w io.Writer, data []byte) error {
	services, err := load(data)
	if err != nil {
		return err
	}
	// New compiles every rule once, up front: a directory with a bad rule is
	// refused here, before anyone is matched against it.
	ix, err := matching.New(ctx, services, matching.Options{Now: func() time.Time { return asOf }})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "rule drafts, checked as the staffer types:")
	for _, d := range drafts {
		if err := showDraft(w, d); err != nil {
			return err
		}
	}
	if err := showRejectedDirectory(ctx, w, services); err != nil {
		return err
	}

	snap := ix.Snapshot()
	fmt.Fprintf(w, "\ndirectory loaded: %d services, %d distinct rules compiled\n", snap.Len(), snap.Rules())
	for _, p := range people() {
		res, err := ix.Match(ctx, p.request)
		if err != nil {
			return fmt.Errorf("matching %s: %w", p.name, err)
		}
		fmt.Fprintf(w, "\n%s: %s\n", p.name, p.about)
		showResult(w, snap, res)
	}
	return nil
}

// directory is the shape of services.json: one network and its services in
// refkit's HSDS-based JSON.
type directory struct {
	Network  referral.ID        `json:"network_id"`
	Services []referral.Service `json:"services"`
}

// load decodes the directory strictly: a misspelled field name in a listing is
// an error, not a silently ignored line.
func load(data []byte) ([]referral.Service, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var dir directory
	if err := dec.Decode(&dir); err != nil {
		return nil, fmt.Errorf("services: %w: %w", referral.Invalid("services", "is not a valid directory"), err)
	}
	if dec.More() {
		return nil, referral.Invalid("services", "has data after the directory")
	}
	if err := dir.Network.Require("network_id"); err != nil {
		return nil, err
	}
	if len(dir.Services) == 0 {
		return nil, referral.Invalid("services", "lists no service")
	}
	for i := range dir.Services {
		dir.Services[i].Network = dir.Network
	}
	return dir.Services, nil
}

// draft is a rule as a staffer typed it for one of their services.
type draft struct {
	service, mistake, rule string
}

// misspelled is also put into a whole directory, to show how loading fails.
var misspelled = draft{"Eastside Family Pantry", "misspelled fact", "household_size >= 2 &&\n  incom_annual < 30000"}

// drafts are the mistakes people make when they first write rules.
var drafts = []draft{
	{"Golden Years Home-Delivered Meals", "unbalanced parenthesis", `age >= 65 && (county == "Franklin"`},
	misspelled,
	{"Veterans and Elders Ride Line", "not a yes/no question", "age + 1"},
	{"Golden Years Home-Delivered Meals", "number compared with text", `age == "sixty"`},
	{"Emergency Utility Fund", "reads the clock", `now().Year() == 2026 && has_need("utility-insecurity")`},
	{"Weekend Backpack Program", "pasted every zip code in the state", zipList(700)},
}

// zipList is a rule listing n zip codes: longer than the limit on rule text.
func zipList(n int) string {
	zips := make([]string, n)
	for i := range zips {
		zips[i] = fmt.Sprintf("%q", fmt.Sprintf("4%04d", i))
	}
	return "zip in [" + strings.Join(zips, ", ") + "]"
}

// showDraft prints a draft and where CheckRule says it is wrong, with a caret
// under the column when expr gives a position, as an editor would mark it.
func showDraft(w io.Writer, d draft) error {
	err := matching.CheckRule(d.rule)
	var re *matching.RuleError
	if !errors.As(err, &re) || !errors.Is(err, referral.ErrInvalid) {
		return fmt.Errorf("draft %q: want a rule error, got %v", d.mistake, err)
	}
	fmt.Fprintf(w, "\n  %s — %s\n", d.service, d.mistake)
	lines := strings.Split(d.rule, "\n")
	for i, l := range lines {
		if len(l) > 60 {
			l = l[:57] + fmt.Sprintf("... (%d bytes)", len(d.rule))
		}
		fmt.Fprintf(w, "    | %s\n", l)
		if re.Line == i+1 {
			// expr's columns are 0-based, counted in characters of the line.
			fmt.Fprintf(w, "    | %s^\n", strings.Repeat(" ", re.Column))
		}
	}
	if re.Line > 0 {
		fmt.Fprintf(w, "    %d:%d: %s\n", re.Line, re.Column, re.Message)
	} else {
		fmt.Fprintf(w, "    %s\n", re.Message)
	}
	return nil
}

// showRejectedDirectory shows that a directory is all-or-nothing: one bad rule
// stops matching.New, and the error names the service to fix.
func showRejectedDirectory(ctx context.Context, w io.Writer, services []referral.Service) error {
	bad := make([]referral.Service, len(services))
	copy(bad, services)
	// The draft was typed for the pantry; a directory given with -services may not
	// have it, so the first service stands in.
	at := 0
	for i := range bad {
		if bad[i].Name == misspelled.service {
			at = i
		}
	}
	bad[at].Eligibility = misspelled.rule
	broken := bad[at].ID
	_, err := matching.New(ctx, bad, matching.Options{})
	var re *matching.RuleError
	if !errors.As(err, &re) || re.Service != broken {
		return fmt.Errorf("want the directory refused for service %s's rule, got %v", broken, err)
	}
	fmt.Fprintf(w, "\nloading a directory whose %s rule is the misspelled draft:\n  %v\n", bad[at].Name, err)
	return nil
}

// person is a fictional person and the request a host would build for them.
type person struct {
	name, about string
	request     matching.Request
}

func people() []person {
	downtown := &referral.Point{Latitude: 39.9625, Longitude: -82.9960}
	income := func(v float64) *float64 { return &v }
	need := func(d referral.Domain, u referral.Urgency) referral.Need {
		return referral.Need{Domain: d, Urgency: u}
	}
	request := func(p referral.Person, needs ...referral.Need) matching.Request {
		return matching.Request{Person: p, Needs: needs, Near: downtown, RadiusM: 10_000, Explain: true, AsOf: asOf}
	}
	return []person{
		{
			"Walter", "71, veteran, lives alone, income not given; needs food and a ride",
			request(referral.Person{
				BirthDate: referral.Date{Year: 1954, Month: time.June, Day: 3}, HouseholdSize: 1,
				Languages: []string{"en"}, State: "OH", County: "Franklin", Zip: "43215", Veteran: referral.Known(true),
			}, need(referral.FoodInsecurity, referral.Routine), need(referral.TransportationInsecurity, referral.Routine)),
		},
		{
			"Rosa", "34, family of four on $28,000, speaks Spanish, a child at a Columbus school; shut-off notice",
			request(referral.Person{
				BirthDate: referral.Date{Year: 1991, Month: time.October, Day: 20}, HouseholdSize: 4,
				IncomeAnnual: income(28_000), Languages: []string{"es-MX", "en"}, State: "OH", County: "Franklin",
				Zip: "43205", Attributes: map[string]string{"school_district": "columbus"},
			}, need(referral.FoodInsecurity, referral.Urgent), need(referral.UtilityInsecurity, referral.Urgent)),
		},
		{
			"Dana", "45, household of one on $52,000, lives in Delaware County; worried about food and rent",
			request(referral.Person{
				BirthDate: referral.Date{Year: 1980, Month: time.January, Day: 15}, HouseholdSize: 1,
				IncomeAnnual: income(52_000), Languages: []string{"en"}, State: "OH", County: "Delaware", Zip: "43035",
			}, need(referral.FoodInsecurity, referral.Routine), need(referral.HousingInstability, referral.Routine)),
		},
	}
}

func showResult(w io.Writer, snap *matching.Snapshot, res matching.Result) {
	name := func(id referral.ID) string {
		if s, ok := snap.Service(id); ok {
			return s.Name
		}
		return id.String()
	}
	if len(res.Matches) == 0 {
		fmt.Fprintln(w, "  no match")
	}
	for _, m := range res.Matches {
		where := "serves the " + string(m.Area) + " area"
		if m.DistanceM != nil {
			where = fmt.Sprintf("%.1f km away", *m.DistanceM/1000)
		}
		fmt.Fprintf(w, "  match     %-38s score %.2f  %s\n", name(m.Service), m.Score, where)
		fmt.Fprintf(w, "            why: %s\n", reasons(m.Reasons))
	}
	for _, x := range res.Excluded {
		fmt.Fprintf(w, "  excluded  %-38s %s\n", name(x.Service), reasons(x.Reasons))
	}
}

// reasons joins reason codes and their details; details never hold personal
// data, so this line is safe to show a caseworker or to log.
func reasons(rs []matching.Reason) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
		if r.Detail != "" {
			out[i] += ": " + r.Detail
		}
	}
	return strings.Join(out, "; ")
}
