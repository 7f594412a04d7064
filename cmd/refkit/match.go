package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

func init() {
	register(&command{
		name:    "match",
		summary: "match requests against a service directory",
		args:    "(--directory FILE | --db FILE --network ID | --postgres URL --network ID) [--request FILE | --requests FILE.jsonl]",
		about: `Match builds the matching index from a directory: a refkit database's network
(--db or --postgres with --network, as 'refkit hsds import --db' fills it), or
a directory file ({"services": [...]}, the records of package referral, as
'refkit hsds import' prints them). It answers one request (--request, or
standard input) or many (--requests, JSON Lines), printing one JSON result line
per request: the services that match, ranked, with distance and score, and with
"explain": true the services excluded and why. A request is a matching.Request
in JSON: the person's facts, their needs, where they are and the radius.
Confidential locations are shown as the public sees them: their vicinity and a
rounded distance. Output is written only when every request succeeded, so a
failure prints nothing half-way.`,
		examples: []string{
			"refkit match --directory cmd/refkit/testdata/directory.json --request cmd/refkit/testdata/request.json",
			"refkit match --db refkit.db --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --request cmd/refkit/testdata/request-austin.json",
			"refkit match --directory directory.json --requests requests.jsonl > results.jsonl",
			"refkit match --directory directory.json < request.json",
		},
		new: func() runner { return &matchCmd{} },
	})
}

type matchCmd struct {
	database
	directory, request, requests string
}

func (c *matchCmd) flags(fs *flag.FlagSet) {
	c.database.flags(fs, "to match against the network --network of")
	fs.StringVar(&c.directory, "directory", "", "directory JSON `FILE`: {\"services\": [...]}, instead of a database")
	fs.StringVar(&c.request, "request", "", "request JSON `FILE` (default: read one request from standard input)")
	fs.StringVar(&c.requests, "requests", "", "JSON Lines `FILE` of requests, one result line per request")
}

// directoryFile is the --directory format.
type directoryFile struct {
	Services []referral.Service `json:"services"`
}

// run reads a directory and one request or many, and prints one JSON result
// line per request.
func (c *matchCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	fromDB, err := c.given()
	if err != nil {
		return err
	}
	if fromDB == (c.directory != "") {
		return errors.New("exactly one of --directory, --db and --postgres is required")
	}
	if c.request != "" && c.requests != "" {
		return errors.New("--request and --requests are mutually exclusive")
	}
	ix, err := c.index(ctx)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	enc := newEncoder(&out, false)
	if c.requests != "" {
		f, err := os.Open(c.requests)
		if err != nil {
			return fmt.Errorf("requests: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		line := 0
		for sc.Scan() {
			line++
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var req matching.Request
			if err := decodeStrict(bytes.NewReader(sc.Bytes()), &req); err != nil {
				return fmt.Errorf("requests line %d: %w", line, err)
			}
			res, err := ix.Match(ctx, req)
			if err != nil {
				return fmt.Errorf("requests line %d: %w", line, err)
			}
			if err := enc.Encode(res); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("requests: %w", err)
		}
	} else {
		var req matching.Request
		var err error
		if c.request != "" {
			err = decodeFile(c.request, &req)
		} else {
			err = decodeStrict(std.in, &req)
		}
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		res, err := ix.Match(ctx, req)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	_, err = std.out.Write(out.Bytes())
	return err
}

// index builds the matching index from the directory file or the database.
func (c *matchCmd) index(ctx context.Context) (*matching.Index, error) {
	if c.directory != "" {
		var dir directoryFile
		if err := decodeFile(c.directory, &dir); err != nil {
			return nil, fmt.Errorf("directory: %w", err)
		}
		ix, err := matching.New(ctx, dir.Services, matching.Options{})
		if err != nil {
			return nil, fmt.Errorf("directory: %w", err)
		}
		return ix, nil
	}
	network, err := c.networkID()
	if err != nil {
		return nil, err
	}
	store, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	ix, err := directory.NewIndex(ctx, store, network, directory.IndexOptions{})
	if err != nil {
		return nil, err
	}
	return ix.Matching(), nil
}

func decodeFile(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return decodeStrict(f, v)
}

// decodeStrict decodes one JSON value and rejects unknown fields and trailing data,
// so a misspelt field is an error rather than silently ignored.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
