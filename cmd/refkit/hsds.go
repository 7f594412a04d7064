package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

func init() {
	register(&command{
		name:    "hsds",
		summary: "import or export an Open Referral HSDS 3.0 or 3.1 directory",
		args:    "import|export [flags]",
		about: `The hsds command moves service directories between Open Referral HSDS 3.0
or 3.1 (its JSON API shape, or a tabular data package of CSV files) and refkit:
a refkit database (SQLite or PostgreSQL), whose directory 'refkit match --db'
matches against, or refkit's directory file, the {"services": [...]} that
'refkit match --directory' reads. import maps taxonomy terms to SDOH domains
(Open Eligibility by default) and lists every record it kept with a problem or
could not import; export writes a directory back out, in either version.`,
		subcommands: []*command{hsdsImport, hsdsExport},
	})
}

var hsdsImport = &command{
	name:    "import",
	summary: "read an HSDS dataset into a database, or print a refkit directory",
	args:    "--network ID [--db FILE | --postgres URL] [flags] PATH",
	about: `Import reads the HSDS 3.0 or 3.1 dataset at PATH (the version is read from the
feed): a JSON file ('-' for standard input) or a tabular data package
directory (datapackage.json and its CSV files). With --db or --postgres it
loads the records into that database's network --network (created, named
--network-name, if missing): a record not stored is added, one that changed
is updated, one that did not is left alone, and a service the dataset lacks is
removed (not with --partial, for a feed of changed records only, such as one
fetched with modified_after); the report of what changed is printed as JSON.
Services that track capacity keep their live figures unless
--replace-capacity. Without a database it prints the directory
{"services": [...]} on standard output, and writes the organizations to the
file --organizations names (export needs it). Every record kept with a
problem or not imported is listed on standard error, then a summary line;
with --strict the first problem fails the import.`,
	examples: []string{
		"refkit hsds import --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --db refkit.db interop/hsds/testdata/json/services.json",
		"refkit hsds import --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --postgres postgres://refkit@db/refkit --partial changes.json",
		"refkit hsds import --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --organizations orgs.json interop/hsds/testdata/csv > directory.json",
	},
	new: func() runner { return &hsdsImportCmd{} },
}

var hsdsExport = &command{
	name:    "export",
	summary: "write a directory as HSDS JSON or a data package",
	args:    "(--db FILE | --postgres URL) --network ID | --organizations FILE [flags]",
	about: `Export writes a directory as HSDS 3.0 or 3.1 (--version): the network --network
of a database (--db or --postgres), or the files 'refkit hsds import' wrote
(the services, read from --directory or standard input, and their
organizations, --organizations). It writes JSON on standard output or in the
file --out, in the shape --shape names (a page of services, organizations or
service_at_locations), or with --format csv a tabular data package in the
directory --out. Records keep their original HSDS ids. What the directory
keeps confidential (a shelter's address and position, staff phones) is left
out unless --include-confidential, for a backup or a move to another system.`,
	examples: []string{
		"refkit hsds export --db refkit.db --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --version 3.1 > services.json",
		"refkit hsds export --directory directory.json --organizations orgs.json --shape organizations > organizations.json",
		"refkit hsds export --db refkit.db --network 0190a6f0-8a4b-7c3d-9e2f-0000000000aa --format csv --out /tmp/hsds-package",
	},
	new: func() runner { return &hsdsExportCmd{} },
}

// timeNow is the clock imports stamp records with; tests replace it.
var timeNow = time.Now

// organizationsFile holds what an import without a database produces
// besides the services, which go to stdout in the --directory format of
// refkit match.
type organizationsFile struct {
	Organizations []referral.Organization `json:"organizations"`
}

// database is the --db and --postgres pair of flags some commands share.
type database struct {
	db, postgres, network string
}

func (d *database) flags(fs *flag.FlagSet, what string) {
	fs.StringVar(&d.db, "db", "", "refkit SQLite database `FILE` "+what)
	fs.StringVar(&d.postgres, "postgres", "", "refkit PostgreSQL database `URL` "+what)
	fs.StringVar(&d.network, "network", "", "network `ID` (a UUIDv7) the directory belongs to")
}

// given reports whether a database was named; both is an error.
func (d *database) given() (bool, error) {
	if d.db != "" && d.postgres != "" {
		return false, errors.New("--db and --postgres are mutually exclusive")
	}
	return d.db != "" || d.postgres != "", nil
}

// directoryStore is what the commands need of a database.
type directoryStore interface {
	storage.Store
	storage.DirectoryFeed
}

// open opens the database named.
func (d *database) open(ctx context.Context) (directoryStore, error) {
	if d.db != "" {
		s, err := sqlite.Open(ctx, d.db, sqlite.Options{})
		if err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
		return s, nil
	}
	s, err := postgres.Open(ctx, d.postgres, postgres.Options{})
	if err != nil {
		return nil, fmt.Errorf("--postgres: %w", err)
	}
	return s, nil
}

// networkID parses --network.
func (d *database) networkID() (referral.ID, error) {
	id, err := referral.ParseID(d.network)
	if err != nil {
		return referral.NilID, fmt.Errorf("--network: %w", err)
	}
	return id, nil
}

type hsdsImportCmd struct {
	database
	format, taxonomy, organizations, networkName string
	strict, ageRule, partial, replaceCapacity    bool
}

func (c *hsdsImportCmd) flags(fs *flag.FlagSet) {
	c.database.flags(fs, "to load the dataset into")
	fs.StringVar(&c.networkName, "network-name", "Imported directory", "`NAME` of the network, when --db or --postgres lacks it")
	fs.StringVar(&c.format, "format", "", "`FORMAT`: json or csv (default: csv for a directory, json otherwise)")
	fs.BoolVar(&c.strict, "strict", false, "fail at the first record that cannot be mapped")
	fs.BoolVar(&c.ageRule, "age-rule", false, "also write minimum_age/maximum_age as an eligibility rule")
	fs.StringVar(&c.taxonomy, "taxonomy", "", "CSV `FILE` mapping taxonomy terms to domains (taxonomy,term,domain), instead of Open Eligibility")
	fs.StringVar(&c.organizations, "organizations", "", "write {\"organizations\": [...]} to `FILE` (without a database)")
	fs.BoolVar(&c.partial, "partial", false, "the dataset holds changed records only: add and update, remove nothing")
	fs.BoolVar(&c.replaceCapacity, "replace-capacity", false, "take the dataset's capacities over the database's live figures")
}

// run reads an HSDS dataset and loads it into a database, or prints
// {"services": [...]} for refkit match. Every record kept with a problem or
// not imported is listed on stderr, then a summary line.
func (c *hsdsImportCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) != 1 {
		return errors.New("one PATH is required (run 'refkit help hsds import')")
	}
	network, err := c.networkID()
	if err != nil {
		return err
	}
	toDB, err := c.given()
	if err != nil {
		return err
	}
	if toDB && c.organizations != "" {
		return errors.New("--organizations is for an import without a database: the database keeps them")
	}
	if !toDB && (c.partial || c.replaceCapacity) {
		return errors.New("--partial and --replace-capacity need --db or --postgres")
	}
	ds, err := c.read(ctx, args[0], network, std.in)
	if err != nil {
		return err
	}
	kept := 0
	for _, p := range ds.Problems {
		fmt.Fprintln(std.err, p.Error())
		if p.Kept {
			kept++
		}
	}
	version := ds.Version
	if version == "" {
		version = hsds.Version30
	}
	summary := func() {
		fmt.Fprintf(std.err, "imported %d services and %d organizations (HSDS %s); %d records kept with a problem; %d records not imported\n",
			len(ds.Services), len(ds.Organizations), version, kept, len(ds.Problems)-kept)
	}
	if !toDB {
		if c.organizations != "" {
			if err := writeJSONFile(c.organizations, organizationsFile{ds.Organizations}); err != nil {
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
		if _, err := std.out.Write(out.Bytes()); err != nil {
			return err
		}
		summary()
		return nil
	}
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.GetNetwork(ctx, network); errors.Is(err, referral.ErrNotFound) {
		if err := store.PutNetwork(ctx, referral.Network{ID: network, Name: c.networkName, Created: timeNow().UTC()}); err != nil {
			return fmt.Errorf("create the network: %w", err)
		}
	} else if err != nil {
		return err
	}
	rep, err := hsds.Load(ctx, store, network, ds, directory.LoadOptions{Partial: c.partial, ReplaceCapacity: c.replaceCapacity, Now: timeNow})
	if err != nil {
		return err
	}
	if err := newEncoder(std.out, true).Encode(rep); err != nil {
		return err
	}
	summary()
	fmt.Fprintf(std.err, "the database now has: services %d added, %d updated, %d unchanged, %d removed; organizations %d added, %d updated, %d unchanged, %d absent from the dataset (kept)\n",
		len(rep.Services.Added), len(rep.Services.Updated), len(rep.Services.Unchanged), len(rep.Services.Removed),
		len(rep.Organizations.Added), len(rep.Organizations.Updated), len(rep.Organizations.Unchanged), len(rep.Organizations.Absent))
	return nil
}

// read reads the dataset at path ('-': stdin) in the format given or guessed.
func (c *hsdsImportCmd) read(ctx context.Context, path string, network referral.ID, stdin io.Reader) (*hsds.Dataset, error) {
	opts := hsds.Options{Network: network, Strict: c.strict, AgeRule: c.ageRule}
	if c.taxonomy != "" {
		f, err := os.Open(c.taxonomy)
		if err != nil {
			return nil, fmt.Errorf("--taxonomy: %w", err)
		}
		opts.Taxonomy, err = hsds.ReadTaxonomyMap(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--taxonomy: %w", err)
		}
	}
	format := c.format
	if format == "" {
		format = "json"
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			format = "csv"
		}
	}
	switch format {
	case "json":
		r := stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		return hsds.ReadJSON(ctx, r, opts)
	case "csv":
		return hsds.ReadDatapackage(ctx, os.DirFS(path), opts)
	}
	return nil, errors.New("--format must be json or csv")
}

type hsdsExportCmd struct {
	database
	directory, organizations, format, out, version, shape string
	confidential                                          bool
}

func (c *hsdsExportCmd) flags(fs *flag.FlagSet) {
	c.database.flags(fs, "to export the network --network of")
	fs.StringVar(&c.directory, "directory", "", "services `FILE` {\"services\": [...]}, without a database (default: standard input)")
	fs.StringVar(&c.organizations, "organizations", "", "organizations `FILE` {\"organizations\": [...]}, without a database (HSDS services need their organization)")
	fs.StringVar(&c.format, "format", "json", "`FORMAT`: json (to standard output or the file --out) or csv (a data package in the directory --out)")
	fs.StringVar(&c.out, "out", "", "output `PATH`: a file for json, a directory for csv (required for csv)")
	fs.StringVar(&c.version, "version", "3.0", "HSDS `VERSION` to write: 3.0 or 3.1")
	fs.StringVar(&c.shape, "shape", "services", "`SHAPE` of the JSON: a page of services, organizations or service_at_locations")
	fs.BoolVar(&c.confidential, "include-confidential", false, "write what the directory keeps confidential too (for a backup)")
}

// shapes are the --shape values.
var shapes = map[string]hsds.Shape{
	"services": hsds.ServicePage, "organizations": hsds.OrganizationPage, "service_at_locations": hsds.ServiceAtLocationPage,
}

// run writes a directory (a database's, or the files hsds import produced) as
// HSDS.
func (c *hsdsExportCmd) run(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	shape, ok := shapes[c.shape]
	if !ok {
		return errors.New("--shape must be services, organizations or service_at_locations")
	}
	ds := &hsds.Dataset{Version: hsds.Version(c.version)}
	if ds.Version != hsds.Version30 && ds.Version != hsds.Version31 {
		return errors.New("--version must be 3.0 or 3.1")
	}
	fromDB, err := c.given()
	if err != nil {
		return err
	}
	var network referral.ID
	if fromDB {
		if c.directory != "" || c.organizations != "" {
			return errors.New("--directory and --organizations are for an export without a database")
		}
		if network, err = c.networkID(); err != nil {
			return err
		}
		if err := c.fromDB(ctx, network, ds); err != nil {
			return err
		}
	} else if err := c.fromFiles(std.in, ds); err != nil {
		return err
	}
	if c.confidential {
		if network.IsZero() && len(ds.Organizations) > 0 {
			network = ds.Organizations[0].Network
		}
		ds.Viewer = &referral.Actor{Network: network, Role: referral.RoleSystem, User: "refkit hsds export"}
	}
	switch c.format {
	case "csv":
		if c.out == "" {
			return errors.New("--out DIR is required for csv")
		}
		return hsds.WriteDatapackage(ctx, c.out, ds)
	case "json":
		var buf bytes.Buffer
		if err := hsds.WriteJSONAs(ctx, &buf, ds, shape); err != nil {
			return err
		}
		if c.out == "" {
			_, err := std.out.Write(buf.Bytes())
			return err
		}
		return os.WriteFile(c.out, buf.Bytes(), 0o644)
	}
	return errors.New("--format must be json or csv")
}

// fromDB reads the network's directory from the database.
func (c *hsdsExportCmd) fromDB(ctx context.Context, network referral.ID, ds *hsds.Dataset) error {
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catalog, err := directory.NewCatalog(ctx, store, network)
	if err != nil {
		return err
	}
	for o := range catalog.Organizations() {
		ds.Organizations = append(ds.Organizations, o.Clone())
	}
	for s := range catalog.Services() {
		ds.Services = append(ds.Services, s.Clone())
	}
	return nil
}

// fromFiles reads the files an import without a database wrote.
func (c *hsdsExportCmd) fromFiles(stdin io.Reader, ds *hsds.Dataset) error {
	if c.organizations == "" {
		return errors.New("--organizations is required without a database: HSDS services need their organization")
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
	ds.Organizations, ds.Services = orgs.Organizations, dir.Services
	return nil
}

func writeJSONFile(path string, v any) error {
	var b bytes.Buffer
	if err := newEncoder(&b, true).Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
