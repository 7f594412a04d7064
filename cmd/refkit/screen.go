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
	register(&command{
		name:    "screen",
		summary: "score a screening response (AHC HRSN, PHQ-9, GAD-7, ...)",
		args:    "--instrument ID [--in FILE] [--fhir] | --list",
		about: `Screen scores one response to a built-in instrument (AHC HRSN, Hunger Vital
Sign, PHQ-2, PHQ-9, GAD-7, PRAPARE) and prints the total, the band, the positive
SDOH domains, safety flags and the needs a referral would carry, as JSON. The
response is {"answers": {"<item code>": <answer>, ...}}, answers given by code,
text or value, or with --fhir a FHIR R4 QuestionnaireResponse; it is read from
--in or standard input (at most 8 MiB). --list prints every instrument with its
items and answer codes.`,
		examples: []string{
			`echo '{"answers":{"88122-7":"Often true","88123-5":"Never true"}}' | refkit screen --instrument hunger-vital-sign`,
			"refkit screen --instrument phq-9 --in response.json",
			"refkit screen --instrument ahc-hrsn --fhir --in questionnaire-response.json",
			"refkit screen --list",
		},
		new: func() runner { return &screenCmd{} },
	})
}

type screenCmd struct {
	instrument, in string
	fhir, list     bool
}

func (c *screenCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.instrument, "instrument", "", "instrument `ID`, e.g. ahc-hrsn or phq-9 (see --list; required unless --list)")
	fs.StringVar(&c.in, "in", "", "read the response from `FILE` instead of standard input")
	fs.BoolVar(&c.fhir, "fhir", false, "the response is a FHIR R4 QuestionnaireResponse")
	fs.BoolVar(&c.list, "list", false, "list the instruments with their items and answer codes, and exit")
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

func (c *screenCmd) run(_ context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	reg, err := screening.Builtin()
	if err != nil {
		return err
	}
	enc := newEncoder(std.out, true)
	if c.list {
		var out []listedInstrument
		for _, in := range reg.List() {
			out = append(out, listedInstrument{ID: in.ID, Version: in.Version, Title: in.Title, Code: in.Code, Items: in.Items})
		}
		return enc.Encode(out)
	}
	if c.instrument == "" {
		return fmt.Errorf("--instrument is required (or --list)")
	}
	in, err := reg.Lookup(c.instrument)
	if err != nil {
		return err
	}
	data, err := readInput(c.in, std.in)
	if err != nil {
		return err
	}
	var resp *screening.Response
	if c.fhir {
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
