// Command custom-instrument shows how a host adds its own screening instrument
// to refkit: a clinic's "Social Needs Check" written as JSON (instrument.json
// beside this file), parsed, registered next to the built-in instruments, used
// to score three fictional people, and turned into a stored screening and FHIR
// Observations. It ends with what the host sees when a definition is wrong.
//
//	go run ./examples/custom-instrument [-instrument FILE]
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// The definition is embedded so that `go run` works from any directory;
// -instrument runs the example with an edited copy instead, to see what Parse
// says about a change (the example's answers must still fit it).
//
//go:embed instrument.json
var instrumentJSON []byte

func main() {
	path := flag.String("instrument", "", "an edited copy of instrument.json to use instead of the embedded one")
	flag.Parse()
	source, data := "instrument.json", instrumentJSON
	if *path != "" {
		var err error
		if data, err = os.ReadFile(*path); err != nil {
			fmt.Fprintln(os.Stderr, "custom-instrument:", err)
			os.Exit(1)
		}
		source = *path
	}
	if err := run(context.Background(), os.Stdout, source, data); err != nil {
		fmt.Fprintln(os.Stderr, "custom-instrument:", err)
		os.Exit(1)
	}
}

// screenedAt is the fixed clock of the example, so every run prints the same.
var screenedAt = time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)

func run(ctx context.Context, w io.Writer, source string, data []byte) error {
	// Parse validates the whole definition and compiles its rules once; a host
	// does this at start-up (or when an administrator saves a new version), never
	// per response.
	in, err := screening.Parse(source, data)
	if err != nil {
		return err
	}
	// Builtin returns a registry of the host's own, so adding to it changes no
	// other caller's.
	reg, err := screening.Builtin()
	if err != nil {
		return err
	}
	if err := reg.Add(in); err != nil {
		return err
	}
	fmt.Fprintln(w, "registered instruments:")
	for _, it := range reg.List() {
		fmt.Fprintf(w, "  %-28s %2d items  %s\n", it.ID, len(it.Items), it.Title)
	}

	// Hosts look instruments up by id, as they would when a form names one.
	check, err := reg.Lookup(in.ID)
	if err != nil {
		return err
	}
	people, err := responses(check)
	if err != nil {
		return err
	}
	var first screening.Result
	for i, p := range people {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := p.response.Score()
		fmt.Fprintf(w, "\n%s (%s)\n", p.name, p.how)
		printResult(w, res)
		if i == 0 {
			first = res
		}
	}

	if err := store(w, people[0].response, first); err != nil {
		return err
	}
	return broken(w)
}

// person is one fictional person's answers and how they reached refkit.
type person struct {
	name, how string
	response  *screening.Response
}

// responses builds the example's answers the two ways a host receives them.
func responses(in *screening.Instrument) ([]person, error) {
	// A web form posts JSON keyed by item id. Answers may be codes, display
	// texts or values; null means the question was skipped.
	ana, err := screening.ParseAnswers(in, []byte(`{"answers": {
		"71802-3": "LA31994-9",
		"88122-7": "Often true",
		"88123-5": "Often true",
		"93030-5": "No",
		"rcc-utility": "Threatened",
		"rcc-stress": "Most nights",
		"rcc-household": 5,
		"rcc-other": "Help filling in the school meals form"
	}}`))
	if err != nil {
		return nil, fmt.Errorf("answers of Ana: %w", err)
	}

	// A host's own UI answers item by item, by id or by readable key.
	ben := in.NewResponse()
	for _, a := range []struct{ item, answer string }{
		{"living-situation", "I have a steady place to live"},
		{"food-worry", "LA28398-8"},
		{"food-didnt-last", "Never true"},
		{"transportation", "Yes"},
		{"utility-shutoff", "No"},
		{"stress", "1"},
		{"household-size", "1"},
	} {
		if err := ben.Answer(a.item, a.answer); err != nil {
			return nil, fmt.Errorf("answers of Ben: %w", err)
		}
	}

	// Carla declined one question and skipped another: the result says so
	// instead of treating the gaps as "no need".
	carla, err := screening.ParseAnswers(in, []byte(`{"answers": {
		"71802-3": "I choose not to answer",
		"88122-7": "Sometimes true",
		"88123-5": null,
		"rcc-stress": 0
	}}`))
	if err != nil {
		return nil, fmt.Errorf("answers of Carla: %w", err)
	}
	return []person{
		{"Ana", "JSON from a web form", ana},
		{"Ben", "Response.Answer from the host's UI", ben},
		{"Carla", "JSON, one answer declined and some skipped", carla},
	}, nil
}

func printResult(w io.Writer, res screening.Result) {
	total := "none (an item of the score is missing)"
	if res.Total.Set {
		total = fmt.Sprint(res.Total.Value)
	}
	fmt.Fprintf(w, "  total     %s\n", total)
	fmt.Fprintf(w, "  band      %s\n", orNone(res.Band))
	fmt.Fprintf(w, "  valid     %t\n", res.Valid)
	fmt.Fprintf(w, "  missing   %s\n", orNone(strings.Join(res.Missing, ", ")))
	domains := make([]string, len(res.PositiveDomains))
	for i, d := range res.PositiveDomains {
		domains[i] = string(d)
	}
	fmt.Fprintf(w, "  positive  %s\n", orNone(strings.Join(domains, ", ")))
	for _, n := range res.Needs {
		fmt.Fprintf(w, "  need      %s (%s)\n", n.Domain, n.Urgency)
	}
	fmt.Fprintf(w, "  flags     %s\n", orNone(strings.Join(res.Flags, ", ")))
	if len(res.Indeterminate) > 0 {
		fmt.Fprintf(w, "  undecided %s\n", strings.Join(res.Indeterminate, ", "))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// store shows the path on: the Result becomes the referral.Screening a store
// keeps (its needs point back to it, so a referral can cite it), and FHIR
// Observations for the person's record.
func store(w io.Writer, r *screening.Response, res screening.Result) error {
	// IDs come from an injected clock and a seeded source so the output is stable.
	ids := referral.NewIDGenerator(func() time.Time { return screenedAt }, rand.NewChaCha8([32]byte{7}))
	network, person, id := ids.MustNew(), ids.MustNew(), ids.MustNew()
	s := res.Screening(id, network, person, screenedAt)
	if err := s.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstored screening for Ana: instrument %s %s, %d needs, first need cites the screening: %t\n",
		s.Instrument, s.Version, len(s.Needs), s.Needs[0].Screening == s.ID)

	obs := r.Observations(&res, screening.ObservationOptions{Prefix: "ana-screen", Subject: "Patient/" + person.String(), At: screenedAt})
	// Items reusing LOINC codes are labelled LOINC; the clinic's own codes go
	// under the instrument's "system"; the last Observation is the panel,
	// carrying the total and its members.
	fmt.Fprintf(w, "FHIR Observations: %d\n", len(obs))
	shown := []screening.Observation{obs[0]}
	for _, o := range obs {
		if o.Code.Coding[0].System != screening.SystemLOINC && o.ValueCodeableConcept != nil {
			shown = append(shown, o)
			break
		}
	}
	for _, o := range append(shown, obs[len(obs)-1]) {
		b, err := json.Marshal(o.Code.Coding[0])
		if err != nil {
			return err
		}
		value := "none"
		switch {
		case o.ValueCodeableConcept != nil:
			value = o.ValueCodeableConcept.Coding[0].Code
		case o.ValueInteger != nil:
			value = fmt.Sprint(*o.ValueInteger)
		}
		fmt.Fprintf(w, "  %s code %s value %s\n", o.ID, b, value)
	}
	return nil
}

// variant is a broken copy of the definition, made by one textual edit so its
// errors point into a file that looks like the real one.
type variant struct {
	name, old, new string
}

// variants are mistakes a host developer makes when editing instrument.json.
var variants = []variant{
	{"rule names an item that does not exist", `item(\"rcc-household\")`, `item(\"rcc-houshold\")`},
	{"two items share an id", `"id": "rcc-stress",`, `"id": "rcc-utility",`},
	{"bands overlap", `{"name": "moderate", "min": 3,`, `{"name": "moderate", "min": 2,`},
	{"malformed JSON (a comma missing)", `"min": 1,`, `"min": 1`},
}

// apply returns data with v's edit made; the edit must match exactly once, so a
// change to instrument.json cannot silently leave a variant unbroken.
func (v variant) apply(data []byte) ([]byte, error) {
	s := string(data)
	if n := strings.Count(s, v.old); n != 1 {
		return nil, fmt.Errorf("variant %q: the text to change occurs %d times, want 1", v.name, n)
	}
	return []byte(strings.Replace(s, v.old, v.new, 1)), nil
}

// broken parses each variant of the embedded definition (whatever -instrument
// says: the edits are made for that file) and prints what Parse reports.
func broken(w io.Writer) error {
	fmt.Fprintln(w, "\nbroken definitions:")
	for _, v := range variants {
		bad, err := v.apply(instrumentJSON)
		if err != nil {
			return err
		}
		_, err = screening.Parse("instrument.json", bad)
		var de *screening.DefinitionError
		if !errors.As(err, &de) || !errors.Is(err, referral.ErrInvalid) {
			return fmt.Errorf("variant %q: want a definition error, got %v", v.name, err)
		}
		// The fields let an editor put a marker on the exact spot; Error() is the
		// one-line form for logs.
		fmt.Fprintf(w, "  %s\n    at line %d, column %d, path %s: %s\n    %v\n",
			v.name, de.Line, de.Column, orNone(de.Path), de.Problem, err)
	}
	return nil
}
