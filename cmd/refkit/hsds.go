package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

func init() {
	register(&command{
		name:    "hsds",
		summary: "import or export an Open Referral HSDS 3.0 directory",
		args:    "import|export [flags]",
		about: `The hsds command converts service directories between Open Referral HSDS
3.0 (its JSON API shape, or a tabular data package of CSV files) and refkit's
directory file, the {"services": [...]} that 'refkit match --directory' reads.
import maps taxonomy terms to SDOH domains (Open Eligibility by default) and
lists every record it could not map; export writes the directory back out, with
the original HSDS ids when given the sources file import wrote.`,
		subcommands: []*command{hsdsImport, hsdsExport},
	})
}

var hsdsImport = &command{
	name:    "import",
	summary: "read an HSDS dataset and print a refkit directory",
	args:    "--network ID [flags] PATH",
	about: `Import reads the HSDS dataset at PATH: a JSON file ('-' for standard input) or
a tabular data package directory (datapackage.json and its CSV files). It prints
the directory {"services": [...]} on standard output; the organizations and the
map from refkit ids to the original HSDS ids go to the files --organizations and
--sources name (export needs the first). Every record that could not be mapped
is listed on standard error, then a summary line; with --strict the first one
fails the import.`,
	examples: []string{
		"refkit hsds import --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa interop/hsds/testdata/json/services.json > directory.json",
		"refkit hsds import --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --organizations orgs.json --sources sources.json interop/hsds/testdata/csv > directory.json",
	},
	new: func() runner { return &hsdsImportCmd{} },
}

var hsdsExport = &command{
	name:    "export",
	summary: "write a refkit directory as HSDS JSON or a data package",
	args:    "--organizations FILE [flags]",
	about: `Export writes a directory (the files 'refkit hsds import' produced: the
services, read from --directory or standard input, and their organizations) as
HSDS 3.0: JSON on standard output or in the file --out, or with --format csv a
tabular data package in the directory --out. With --sources the records keep
their original HSDS ids.`,
	examples: []string{
		"refkit hsds export --directory directory.json --organizations orgs.json --sources sources.json > services.json",
		"refkit hsds export --directory directory.json --organizations orgs.json --format csv --out /tmp/hsds-package",
	},
	new: func() runner { return &hsdsExportCmd{} },
}

// organizationsFile and sourcesFile hold what an import produces besides the
// services, which go to stdout in the --directory format of refkit match.
type organizationsFile struct {
	Organizations []referral.Organization `json:"organizations"`
}

type sourcesFile struct {
	Sources map[referral.ID]string `json:"sources"`
}

type hsdsImportCmd struct {
	network, format, taxonomy, organizations, sources string
	strict, ageRule                                   bool
}

func (c *hsdsImportCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.network, "network", "", "network `ID` (a UUIDv7) the records belong to (required)")
	fs.StringVar(&c.format, "format", "", "`FORMAT`: json or csv (default: csv for a directory, json otherwise)")
	fs.BoolVar(&c.strict, "strict", false, "fail at the first record that cannot be mapped")
	fs.BoolVar(&c.ageRule, "age-rule", false, "also write minimum_age/maximum_age as an eligibility rule")
	fs.StringVar(&c.taxonomy, "taxonomy", "", "CSV `FILE` mapping taxonomy terms to domains (taxonomy,term,domain), instead of Open Eligibility")
	fs.StringVar(&c.organizations, "organizations", "", "write {\"organizations\": [...]} to `FILE`")
	fs.StringVar(&c.sources, "sources", "", "write {\"sources\": {refkit id: HSDS id}} to `FILE`")
}

// run reads an HSDS dataset and prints {"services": [...]} for refkit match;
// organizations and the original ids go to the files named by flags. Every
// record that could not be mapped is listed on stderr, then a summary line.
func (c *hsdsImportCmd) run(ctx context.Context, args []string, std stdio) error {
	stdin, stdout, stderr := std.in, std.out, std.err
	if len(args) != 1 {
		return errors.New("one PATH is required (run 'refkit help hsds import')")
	}
	network, err := referral.ParseID(c.network)
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	opts := hsds.Options{Network: network, Strict: c.strict, AgeRule: c.ageRule}
	if c.taxonomy != "" {
		f, err := os.Open(c.taxonomy)
		if err != nil {
			return fmt.Errorf("--taxonomy: %w", err)
		}
		opts.Taxonomy, err = hsds.ReadTaxonomyMap(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--taxonomy: %w", err)
		}
	}
	path, format := args[0], c.format
	if format == "" {
		format = "json"
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			format = "csv"
		}
	}
	var ds *hsds.Dataset
	switch format {
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
	if c.organizations != "" {
		if err := writeJSONFile(c.organizations, organizationsFile{ds.Organizations}); err != nil {
			return err
		}
	}
	if c.sources != "" {
		if err := writeJSONFile(c.sources, sourcesFile{ds.Sources}); err != nil {
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

type hsdsExportCmd struct {
	directory, organizations, sources, format, out string
}

func (c *hsdsExportCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.directory, "directory", "", "services `FILE` {\"services\": [...]} (default: standard input)")
	fs.StringVar(&c.organizations, "organizations", "", "organizations `FILE` {\"organizations\": [...]} (required: HSDS services need their organization)")
	fs.StringVar(&c.sources, "sources", "", "sources `FILE` from hsds import, to write the original HSDS ids")
	fs.StringVar(&c.format, "format", "json", "`FORMAT`: json (to standard output or the file --out) or csv (a data package in the directory --out)")
	fs.StringVar(&c.out, "out", "", "output `PATH`: a file for json, a directory for csv (required for csv)")
}

// run writes a directory (the files hsds import produced) as HSDS.
func (c *hsdsExportCmd) run(ctx context.Context, args []string, std stdio) error {
	stdin, stdout := std.in, std.out
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if c.organizations == "" {
		return errors.New("--organizations is required: HSDS services need their organization")
	}
	var dir directoryFile
	var err error
	if c.directory != "" {
		err = decodeFile(c.directory, &dir)
	} else {
		err = decodeStrict(stdin, &dir)
	}
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	var orgs organizationsFile
	if err := decodeFile(c.organizations, &orgs); err != nil {
		return fmt.Errorf("organizations: %w", err)
	}
	ds := &hsds.Dataset{Organizations: orgs.Organizations, Services: dir.Services}
	if c.sources != "" {
		var src sourcesFile
		if err := decodeFile(c.sources, &src); err != nil {
			return fmt.Errorf("sources: %w", err)
		}
		ds.Sources = src.Sources
	}
	switch c.format {
	case "csv":
		if c.out == "" {
			return errors.New("--out DIR is required for csv")
		}
		return hsds.WriteDatapackage(ctx, c.out, ds)
	case "json":
		var buf bytes.Buffer
		if err := hsds.WriteJSON(ctx, &buf, ds); err != nil {
			return err
		}
		if c.out == "" {
			_, err := stdout.Write(buf.Bytes())
			return err
		}
		return os.WriteFile(c.out, buf.Bytes(), 0o644)
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
