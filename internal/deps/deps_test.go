// Package deps holds the test that keeps each refkit package's dependencies to
// the ones it is meant to have. A host importing one package links everything
// that package imports, transitively: a stray import of a database driver or a
// chart library in a low package costs every program above it.
package deps

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/refkit/refkit"

// rule is what one package of the module may depend on.
type rule struct {
	// imports are the module's packages it may import directly: the "may
	// import" column of the package table in the design notes, narrowed to what
	// the code needs where the notes say "everything below it".
	imports []string
	// anyImport lets a command or example import any package of the module.
	anyImport bool
	// modules are the third-party modules its own files import: exactly these,
	// so that a new one fails the test and a dropped one does too (the package
	// doc lists them).
	modules []string
}

const (
	expr      = "github.com/expr-lang/expr"
	h3        = "github.com/uber/h3-go/v4"
	uuid      = "github.com/google/uuid"
	pgx       = "github.com/jackc/pgx/v5"
	puddle    = "github.com/jackc/puddle/v2"
	sqlite    = "modernc.org/sqlite"
	stateless = "github.com/qmuntal/stateless"
	testify   = "github.com/stretchr/testify"
	gonum     = "gonum.org/v1/plot"
	term      = "golang.org/x/term"
	jwtgo     = "github.com/golang-jwt/jwt/v5"
	keyfunc   = "github.com/MicahParks/keyfunc/v3"
	promgo    = "github.com/prometheus/client_golang"
	otelProm  = "go.opentelemetry.io/otel/exporters/prometheus"
	// The OpenTelemetry API: what an instrumented package links. The SDK
	// is the host's choice, so no library package links it (see heavy).
	otelAPI    = "go.opentelemetry.io/otel"
	otelMetric = "go.opentelemetry.io/otel/metric"
	otelTrace  = "go.opentelemetry.io/otel/trace"
	otelSDK    = "go.opentelemetry.io/otel/sdk"
	otelSDKM   = "go.opentelemetry.io/otel/sdk/metric"
)

// otel are the API modules an instrumented package imports.
var otel = []string{otelAPI, otelMetric, otelTrace}

// with returns modules followed by more.
func with(modules []string, more ...string) []string {
	return append(append([]string(nil), modules...), more...)
}

// rules covers every package of the module with non-test Go files.
var rules = map[string]rule{
	"referral":                         {modules: []string{uuid}},
	"screening":                        {imports: []string{"referral", "internal/rulecost", "internal/strictjson", "internal/telemetry"}, modules: []string{otelAPI, otelMetric, expr}},
	"matching":                         {imports: []string{"referral", "internal/rulecost", "matching/internal/reference", "internal/telemetry"}, modules: with(otel, expr, h3)},
	"matching/internal/reference":      {},
	"internal/rulecost":                {modules: []string{expr}},
	"internal/backendtest":             {imports: []string{"referral", "storage", "storage/memory", "storage/sqlite", "storage/postgres"}, modules: []string{pgx, testify}},
	"internal/rulecost/corpus":         {},
	"internal/strictjson":              {},
	"internal/gctune":                  {},
	"internal/adversarial":             {},
	"matching/synth":                   {imports: []string{"referral", "matching", "matching/synth/internal/rulemix"}},
	"matching/synth/internal/rulemix":  {},
	"matching/synth/harness":           {imports: []string{"referral", "matching", "matching/internal/reference", "matching/synth", "matching/synth/internal/rulemix"}, modules: []string{pgx}},
	"storage":                          {imports: []string{"referral"}},
	"storage/memory":                   {imports: []string{"referral", "storage"}},
	"storage/sqlite":                   {imports: []string{"referral", "storage", "internal/migrate", "internal/telemetry", "internal/storetel"}, modules: []string{otelMetric, otelTrace, sqlite}},
	"storage/postgres":                 {imports: []string{"referral", "storage", "internal/migrate", "internal/telemetry", "internal/storetel"}, modules: with(otel, pgx, puddle)},
	"internal/storetel":                {imports: []string{"referral", "storage", "internal/telemetry"}, modules: otel},
	"storage/storagetest":              {imports: []string{"referral", "storage"}, modules: []string{testify}},
	"internal/migrate":                 {imports: []string{"referral", "storage"}},
	"lifecycle":                        {imports: []string{"referral", "storage", "internal/telemetry"}, modules: with(otel, stateless)},
	"internal/telemetry":               {imports: []string{"referral"}, modules: otel},
	"internal/telemetry/telemetrytest": {imports: []string{"referral", "storage", "storage/storagetest"}, modules: []string{otelAPI, otelSDK, otelSDKM, testify}},
	"directory":                        {imports: []string{"referral", "storage", "matching", "internal/telemetry"}, modules: otel},
	"simulation":                       {imports: []string{"referral", "screening", "matching", "matching/synth", "storage", "storage/memory", "lifecycle", "simulation/internal/stats"}, modules: []string{h3}},
	"simulation/plot":                  {imports: []string{"simulation", "simulation/experiment"}, modules: []string{gonum}},
	"simulation/internal/stats":        {},
	"simulation/experiment":            {imports: []string{"referral", "simulation"}},
	"simulation/calibrate":             {imports: []string{"referral", "lifecycle", "matching", "storage", "simulation", "simulation/internal/stats"}},
	"interop/hsds":                     {imports: []string{"referral", "storage", "matching", "directory", "internal/telemetry"}, modules: otel},
	"interop/fhir":                     {imports: []string{"referral", "storage", "lifecycle", "screening", "internal/strictjson", "internal/telemetry"}, modules: otel},
	"demo":                             {imports: []string{"referral", "screening", "matching", "storage", "storage/memory", "lifecycle", "directory"}},
	"api":                              {imports: []string{"referral", "storage", "lifecycle", "screening", "matching", "directory", "interop/fhir", "interop/hsds"}},
	"demo/internal/gensample":          {imports: []string{"referral", "matching"}},
	"cmd/refkit":                       {anyImport: true, modules: []string{term, jwtgo, keyfunc, promgo, otelAPI, otelMetric, otelSDKM, otelProm}},
	"cmd/refkit-load":                  {anyImport: true, modules: []string{jwtgo}},
	"examples/closedloop":              {anyImport: true},
	"examples/custom-instrument":       {anyImport: true},
	"examples/custom-rules":            {anyImport: true},
	"examples/embed-http":              {anyImport: true},
	"examples/postgres":                {anyImport: true, modules: []string{pgx}},
	"examples/quickstart":              {anyImport: true},
	"examples/simulation":              {anyImport: true},
	"examples/experiment":              {anyImport: true},
}

// heavy are the modules whose weight a host notices (a database driver, a
// chart library), and the only library packages allowed to link them, directly
// or through anything they import.
var heavy = map[string][]string{
	pgx:    {"storage/postgres", "matching/synth/harness", "internal/backendtest"},
	sqlite: {"storage/sqlite", "internal/backendtest"},
	gonum:  {"simulation/plot"},
	// The SDK is for hosts (cmd/refkit serve) and tests.
	otelSDK:  {"internal/telemetry/telemetrytest"},
	otelSDKM: {"internal/telemetry/telemetrytest"},
}

// listed is the part of `go list -json` the test reads.
type listed struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	Deps       []string
	Standard   bool
	Module     *struct {
		Path string
		Main bool
	}
}

// list runs go list on the whole module and its dependencies. It needs no
// network: GOPROXY=off makes a missing module an error rather than a download,
// and -mod=readonly an untidy go.mod.
func list(t *testing.T) map[string]*listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-mod=readonly", "-buildvcs=false",
		"-json=ImportPath,Name,Dir,GoFiles,CgoFiles,Imports,Deps,Standard,Module", "./...")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	pkgs := map[string]*listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

func ours(p *listed) bool { return p.Module != nil && p.Module.Main }

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

// moduleOf is the third-party module a non-standard package belongs to.
func moduleOf(t *testing.T, pkgs map[string]*listed, path string) string {
	t.Helper()
	p, ok := pkgs[path]
	require.True(t, ok, "go list did not report %s", path)
	require.NotNil(t, p.Module, "%s has no module", path)
	return p.Module.Path
}

// closure is every module package path imports, itself included.
func closure(pkgs map[string]*listed, path string) []string {
	out := []string{short(path)}
	for _, d := range pkgs[path].Deps {
		if dp, ok := pkgs[d]; ok && ours(dp) {
			out = append(out, short(d))
		}
	}
	return out
}

func TestDependencies(t *testing.T) {
	pkgs := list(t)
	var mine []string
	for path, p := range pkgs {
		if ours(p) && len(p.GoFiles)+len(p.CgoFiles) > 0 {
			mine = append(mine, path)
		}
	}
	slices.Sort(mine)
	require.Contains(t, mine, module+"/referral", "go list ran in the module")

	for _, path := range mine {
		p := pkgs[path]
		name := short(path)
		t.Run(name, func(t *testing.T) {
			r, ok := rules[name]
			require.True(t, ok, "%s has no entry in rules: say what it may depend on", name)
			modules := map[string]bool{}
			for _, imp := range p.Imports {
				switch ip := pkgs[imp]; {
				case ip.Standard:
				case ours(ip):
					require.True(t, r.anyImport || slices.Contains(r.imports, short(imp)),
						"%s imports %s, which the package table does not allow", name, short(imp))
				default:
					modules[moduleOf(t, pkgs, imp)] = true
				}
			}
			require.ElementsMatch(t, r.modules, slices.Collect(maps.Keys(modules)),
				"the third-party modules %s imports changed: update rules and its package doc", name)
			if p.Name == "main" {
				return
			}
			for _, d := range p.Deps {
				dp := pkgs[d]
				if dp.Standard || ours(dp) {
					continue
				}
				if allowed, ok := heavy[dp.Module.Path]; ok {
					require.Contains(t, allowed, name, "%s links %s (through %s)", name, dp.Module.Path, d)
				}
			}
		})
	}
	for name := range rules {
		require.Contains(t, mine, module+"/"+name, "rules names %s, which is not a package", name)
	}
}

// modulePath finds module paths in prose: a domain, then path elements.
var modulePath = regexp.MustCompile(`[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9._~-]+)+`)

// TestPackageDocsListDependencies: the package doc of every public library
// package has a "# Dependencies" section naming exactly the third-party modules
// it links through refkit's code: its own and those of the refkit packages it
// imports, transitively.
func TestPackageDocsListDependencies(t *testing.T) {
	pkgs := list(t)
	for path, p := range pkgs {
		name := short(path)
		if !ours(p) || p.Name == "main" || len(p.GoFiles) == 0 || strings.Contains(path, "/internal/") || strings.HasPrefix(name, "internal/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want := map[string]bool{}
			for _, q := range closure(pkgs, path) {
				for _, m := range rules[q].modules {
					want[m] = true
				}
			}
			section := dependencySection(t, p)
			got := map[string]bool{}
			for _, m := range modulePath.FindAllString(section, -1) {
				got[strings.TrimRight(m, ".,;:")] = true
			}
			require.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)),
				"the Dependencies section of %s's package doc names other modules than it links", name)
		})
	}
}

// dependencySection returns the text of the package doc's "# Dependencies"
// section, up to the next heading.
func dependencySection(t *testing.T, p *listed) string {
	t.Helper()
	fset := token.NewFileSet()
	for _, file := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, file), nil, parser.PackageClauseOnly|parser.ParseComments)
		require.NoError(t, err)
		if f.Doc == nil {
			continue
		}
		_, section, ok := strings.Cut(f.Doc.Text(), "\n# Dependencies\n")
		if !ok {
			continue
		}
		if end := strings.Index(section, "\n# "); end >= 0 {
			section = section[:end]
		}
		return section
	}
	require.Fail(t, "no # Dependencies section", "%s: add one to the package doc", p.ImportPath)
	return ""
}

// TestArchitectureNamesEveryPackage keeps docs/architecture.md, the page a
// newcomer reads first, in step with the code: every public package of the
// module (examples aside) is named there, in backquotes.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	require.NoError(t, err)
	for path, p := range list(t) {
		name := short(path)
		if !ours(p) || len(p.GoFiles) == 0 || strings.Contains(path, "/internal/") ||
			strings.HasPrefix(name, "internal/") || strings.HasPrefix(name, "examples/") {
			continue
		}
		require.True(t, strings.Contains(string(doc), "`"+name+"`"), "docs/architecture.md does not name package %s", name)
	}
}
