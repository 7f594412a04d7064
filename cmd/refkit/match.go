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
	"strings"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/internal/strictjson"
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
		sc.Buffer(make([]byte, 64*1024), maxRequest)
		line := 0
		for sc.Scan() {
			line++
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var req matching.Request
			if err := parseRequest(sc.Bytes(), &req); err != nil {
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
		if errors.Is(sc.Err(), bufio.ErrTooLong) {
			return fmt.Errorf("requests line %d: %w", line+1, referral.Invalid("request", "is larger than 1 MiB"))
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("requests: %w", err)
		}
	} else {
		var req matching.Request
		var err error
		if c.request != "" {
			var f *os.File
			if f, err = os.Open(c.request); err == nil {
				err = decodeRequest(f, &req)
				f.Close()
			}
		} else {
			err = decodeRequest(std.in, &req)
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
// so a misspelt field is an error rather than silently ignored. Errors wrap
// referral.ErrInvalid and name the field, never the value: encoding/json's
// own messages quote numbers it cannot store (an income, an age).
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, dec.InputOffset())
	}
	if dec.More() {
		return referral.Invalid("json", "has data after the JSON value")
	}
	return nil
}

// maxRequest bounds one match request: the largest a person's limits allow
// (100 attributes of 1,000 characters, escaped) is well under it.
const maxRequest = 1 << 20

// requestLimits is what a request may hold besides: strict I-JSON (no member
// named twice, in any letter case, which encoding/json would read as one),
// nested and sized as a request can be.
var requestLimits = strictjson.Limits{Bytes: maxRequest, Depth: 8, Values: 10_000, Elements: 1000, Members: 200}

// decodeRequest reads one match request: at most maxRequest bytes, checked
// as strict JSON within requestLimits before it is decoded strictly.
func decodeRequest(r io.Reader, req *matching.Request) error {
	data, err := io.ReadAll(io.LimitReader(r, maxRequest+1))
	if err != nil {
		return err
	}
	return parseRequest(data, req)
}

func parseRequest(data []byte, req *matching.Request) error {
	if err := strictjson.Check(data, requestLimits); err != nil {
		return referral.Invalid("request", err.Error())
	}
	return decodeStrict(bytes.NewReader(data), req)
}

// jsonError turns encoding/json's errors into refkit's shape, keeping the
// field and the offset and dropping the values its messages quote.
func jsonError(err error, offset int64) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		ve      *referral.ValidationError
	)
	switch {
	case errors.As(err, &ve):
		return err
	case errors.Is(err, io.EOF):
		return referral.Invalid("json", "is empty")
	case errors.As(err, &syntax):
		return referral.Invalid("json", fmt.Sprintf("is malformed at byte %d", syntax.Offset))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "json"
		}
		what, _, _ := strings.Cut(typeErr.Value, " ")
		return referral.Invalid(field, "must be "+typeErr.Type.String()+", not this "+what)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if len(field) > 64 || strings.ContainsFunc(field, func(r rune) bool { return r < 0x20 }) {
			return referral.Invalid("json", "has an unknown field")
		}
		return referral.Invalid(field, "is not a known field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return referral.Invalid("json", fmt.Sprintf("ends early, at byte %d", offset))
	}
	return err
}
