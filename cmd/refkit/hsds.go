package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

func init() {
	register(command{name: "hsds", summary: "import or export an Open Referral HSDS 3.0 directory", run: runHSDS})
}

// organizationsFile and sourcesFile hold what an import produces besides the
// services, which go to stdout in the --directory format of refkit match.
type organizationsFile struct {
	Organizations []referral.Organization `json:"organizations"`
}

type sourcesFile struct {
	Sources map[referral.ID]string `json:"sources"`
}

func runHSDS(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := errors.New("usage: refkit hsds import|export [flags] (run 'refkit hsds import -h')")
	if len(args) == 0 {
		return usage
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "import":
		return runHSDSImport(ctx, args[1:], stdin, stdout, stderr)
	case "export":
		return runHSDSExport(ctx, args[1:], stdin, stdout, stderr)
	}
	return usage
}

// runHSDSImport reads an HSDS dataset and prints {"services": [...]} for refkit
// match; organizations and the original ids go to the files named by flags. Every
// record that could not be mapped is listed on stderr, then a summary line.
func runHSDSImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hsds import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: refkit hsds import --network ID [flags] PATH")
		fmt.Fprintln(stderr, "PATH is a JSON file ('-' for stdin) or a data package directory")
		fs.PrintDefaults()
	}
	networkFlag := fs.String("network", "", "network (UUIDv7) the records belong to (required)")
	format := fs.String("format", "", "json or csv (default: csv for a directory, json otherwise)")
	strict := fs.Bool("strict", false, "fail at the first record that cannot be mapped")
	ageRule := fs.Bool("age-rule", false, "write minimum_age/maximum_age as an eligibility rule")
	taxonomyPath := fs.String("taxonomy", "", "CSV taxonomy map (taxonomy,term,domain) instead of Open Eligibility")
	orgsPath := fs.String("organizations", "", "write {\"organizations\": [...]} to this file")
	sourcesPath := fs.String("sources", "", "write {\"sources\": {refkit id: HSDS id}} to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("one PATH is required")
	}
	network, err := referral.ParseID(*networkFlag)
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	opts := hsds.Options{Network: network, Strict: *strict, AgeRule: *ageRule}
	if *taxonomyPath != "" {
		f, err := os.Open(*taxonomyPath)
		if err != nil {
			return fmt.Errorf("--taxonomy: %w", err)
		}
		opts.Taxonomy, err = hsds.ReadTaxonomyMap(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--taxonomy: %w", err)
		}
	}
	path := fs.Arg(0)
	if *format == "" {
		*format = "json"
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			*format = "csv"
		}
	}
	var ds *hsds.Dataset
	switch *format {
	case "json":
		r := stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		ds, err = hsds.ReadJSON(ctx, r, opts)
	case "csv":
		ds, err = hsds.ReadDatapackage(ctx, os.DirFS(path), opts)
	default:
		return fmt.Errorf("--format must be json or csv")
	}
	if err != nil {
		return err
	}
	if *orgsPath != "" {
		if err := writeJSONFile(*orgsPath, organizationsFile{ds.Organizations}); err != nil {
			return err
		}
	}
	if *sourcesPath != "" {
		if err := writeJSONFile(*sourcesPath, sourcesFile{ds.Sources}); err != nil {
			return err
		}
	}
	services := ds.Services
	if services == nil {
		services = []referral.Service{}
	}
	var out bytes.Buffer
	if err := newEncoder(&out, false).Encode(directoryFile{Services: services}); err != nil {
		return err
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return err
	}
	for _, p := range ds.Problems {
		fmt.Fprintln(stderr, p.Error())
	}
	fmt.Fprintf(stderr, "imported %d services and %d organizations; %d records could not be mapped\n",
		len(ds.Services), len(ds.Organizations), len(ds.Problems))
	return nil
}

// runHSDSExport writes a directory (the files hsds import produced) as HSDS.
func runHSDSExport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hsds export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dirPath := fs.String("directory", "", "services file {\"services\": [...]} (default: stdin)")
	orgsPath := fs.String("organizations", "", "organizations file {\"organizations\": [...]} (required)")
	sourcesPath := fs.String("sources", "", "sources file from hsds import, to write the original HSDS ids")
	format := fs.String("format", "json", "json (to stdout or --out FILE) or csv (a data package in --out DIR)")
	outPath := fs.String("out", "", "output file (json) or directory (csv, required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *orgsPath == "" {
		return errors.New("--organizations is required: HSDS services need their organization")
	}
	var dir directoryFile
	var err error
	if *dirPath != "" {
		err = decodeFile(*dirPath, &dir)
	} else {
		err = decodeStrict(stdin, &dir)
	}
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	var orgs organizationsFile
	if err := decodeFile(*orgsPath, &orgs); err != nil {
		return fmt.Errorf("organizations: %w", err)
	}
	ds := &hsds.Dataset{Organizations: orgs.Organizations, Services: dir.Services}
	if *sourcesPath != "" {
		var src sourcesFile
		if err := decodeFile(*sourcesPath, &src); err != nil {
			return fmt.Errorf("sources: %w", err)
		}
		ds.Sources = src.Sources
	}
	switch *format {
	case "csv":
		if *outPath == "" {
			return errors.New("--out DIR is required for csv")
		}
		return hsds.WriteDatapackage(ctx, *outPath, ds)
	case "json":
		var buf bytes.Buffer
		if err := hsds.WriteJSON(ctx, &buf, ds); err != nil {
			return err
		}
		if *outPath == "" {
			_, err := stdout.Write(buf.Bytes())
			return err
		}
		return os.WriteFile(*outPath, buf.Bytes(), 0o644)
	}
	return errors.New("--format must be json or csv")
}

func writeJSONFile(path string, v any) error {
	var b bytes.Buffer
	if err := newEncoder(&b, true).Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
