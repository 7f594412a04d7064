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

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

func init() {
	register(command{name: "match", summary: "match requests against a service directory", run: runMatch})
}

// directoryFile is the --directory format.
type directoryFile struct {
	Services []referral.Service `json:"services"`
}

// runMatch reads a directory and one request (--request FILE or stdin) or many
// (--requests FILE.jsonl), and prints one JSON result line per request. Output is
// written only when every request succeeded, so a failure prints nothing half-way.
func runMatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("match", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dirPath := fs.String("directory", "", "directory JSON file: {\"services\": [...]} (required)")
	reqPath := fs.String("request", "", "request JSON file (default: read the request from stdin)")
	reqsPath := fs.String("requests", "", "JSON Lines file of requests, one result line per request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dirPath == "" {
		return errors.New("--directory is required")
	}
	if *reqPath != "" && *reqsPath != "" {
		return errors.New("--request and --requests are mutually exclusive")
	}
	var dir directoryFile
	if err := decodeFile(*dirPath, &dir); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	ix, err := matching.New(ctx, dir.Services, matching.Options{})
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	var out bytes.Buffer
	enc := newEncoder(&out, false)
	if *reqsPath != "" {
		f, err := os.Open(*reqsPath)
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
		if *reqPath != "" {
			err = decodeFile(*reqPath, &req)
		} else {
			err = decodeStrict(stdin, &req)
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
	_, err = stdout.Write(out.Bytes())
	return err
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
