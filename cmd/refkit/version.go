package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// modulePath is refkit's module, whose version the version command reports.
const modulePath = "github.com/refkit/refkit"

func init() {
	register(&command{
		name:    "version",
		summary: "print the refkit version this binary was built from",
		about: `Version prints the version of the refkit module this binary was built from,
then the Go version and platform that built it. A binary installed with
'go install github.com/refkit/refkit/cmd/refkit@v0.1.0' reports v0.1.0; one
built in a git checkout reports the commit as a pseudo-version (with +dirty for
uncommitted changes); one without version information, as from 'go run',
reports (devel) and the commit it was built from when the build recorded one.`,
		examples: []string{"refkit version"},
		new:      func() runner { return versionCmd{} },
	})
}

type versionCmd struct{ noFlags }

func (versionCmd) run(_ context.Context, args []string, std stdio) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	_, err := fmt.Fprintf(std.out, "refkit %s (%s %s/%s)\n", moduleVersion(bi), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// moduleVersion returns the version of refkit's module recorded in bi: the main
// module's (go install ...@version, or a build in a checkout, which Go stamps
// with a pseudo-version), or, when refkit was built as a dependency of another
// module, that dependency's (its replacement's, when replaced). Without one it
// is "(devel)", followed, when refkit is the main module and the build recorded
// them, by the commit, its time and "modified" (the VCS settings describe the
// main module's checkout, so they say nothing about refkit as a dependency).
func moduleVersion(bi *debug.BuildInfo) string {
	const devel = "(devel)"
	if bi == nil {
		return devel
	}
	if bi.Main.Path != modulePath {
		for _, d := range bi.Deps {
			if d.Path != modulePath {
				continue
			}
			if d.Replace != nil {
				d = d.Replace
			}
			if d.Version != "" && d.Version != devel {
				return d.Version
			}
		}
		return devel
	}
	if v := bi.Main.Version; v != "" && v != devel {
		return v
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := devel
	if rev := settings["vcs.revision"]; rev != "" {
		v += " revision " + rev[:min(len(rev), 12)]
		if t := settings["vcs.time"]; t != "" {
			v += " " + t
		}
		if settings["vcs.modified"] == "true" {
			v += " modified"
		}
	}
	return v
}
