package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

func init() {
	register(command{name: "screen", summary: "score a screening response (AHC HRSN, PHQ-9, GAD-7, ...)", run: runScreen})
}

// screenOutput is the JSON the screen command prints.
type screenOutput struct {
	Instrument      string            `json:"instrument"`
	Total           screening.Score   `json:"total"`
	Band            string            `json:"band"`
	Valid           bool              `json:"valid"`
	Missing         []string          `json:"missing"`
	PositiveDomains []referral.Domain `json:"positive_domains"`
	Flags           []string          `json:"flags"`
	Needs           []screenNeed      `json:"needs"`
}

type screenNeed struct {
	Domain  referral.Domain  `json:"domain"`
	Urgency referral.Urgency `json:"urgency"`
}

// listedInstrument is one entry of `screen --list`.
type listedInstrument struct {
	ID      string           `json:"id"`
	Version string           `json:"version"`
	Title   string           `json:"title"`
	Code    string           `json:"code,omitempty"`
	Items   []screening.Item `json:"items"`
}

func runScreen(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("screen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("instrument", "", "instrument id (see --list)")
	inFile := fs.String("in", "", "read the response from this file instead of stdin")
	fhir := fs.Bool("fhir", false, "the input is a FHIR R4 QuestionnaireResponse")
	list := fs.Bool("list", false, "list the instruments with their items and options")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	reg, err := screening.Builtin()
	if err != nil {
		return err
	}
	enc := newEncoder(stdout, true)
	if *list {
		var out []listedInstrument
		for _, in := range reg.List() {
			out = append(out, listedInstrument{ID: in.ID, Version: in.Version, Title: in.Title, Code: in.Code, Items: in.Items})
		}
		return enc.Encode(out)
	}
	if *id == "" {
		return fmt.Errorf("--instrument is required (or --list)")
	}
	in, err := reg.Lookup(*id)
	if err != nil {
		return err
	}
	data, err := readInput(*inFile, stdin)
	if err != nil {
		return err
	}
	var resp *screening.Response
	if *fhir {
		resp, err = screening.ParseQuestionnaireResponse(in, data)
	} else {
		resp, err = screening.ParseAnswers(in, data)
	}
	if err != nil {
		return err
	}
	res := resp.Score()
	out := screenOutput{
		Instrument: res.Instrument, Total: res.Total, Band: res.Band, Valid: res.Valid,
		Missing: res.Missing, PositiveDomains: res.PositiveDomains, Flags: res.Flags,
		Needs: make([]screenNeed, 0, len(res.Needs)),
	}
	for _, n := range res.Needs {
		out.Needs = append(out.Needs, screenNeed{Domain: n.Domain, Urgency: n.Urgency})
	}
	return enc.Encode(out)
}

// maxInput bounds what the command reads, so a runaway pipe cannot exhaust memory.
const maxInput = 8 << 20

func readInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading --in: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("input is larger than %d bytes", maxInput)
	}
	return data, nil
}
