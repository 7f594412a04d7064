package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModuleVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "5d02521a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0"},
		{Key: "vcs.time", Value: "2026-12-02T11:55:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	dep := func(version string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/host", Version: "v1.2.3"},
			Deps: []*debug.Module{
				{Path: "github.com/google/uuid", Version: "v1.6.0"},
				{Path: modulePath, Version: version, Replace: replace},
			},
			Settings: vcs,
		}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"go install at a tag", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.1.0"}}, "v0.1.0"},
		{"built in a checkout", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.1.1-0.20261202115500-5d02521a3b4c+dirty"}, Settings: vcs},
			"v0.1.1-0.20261202115500-5d02521a3b4c+dirty"},
		{"a dependency of the host's module", dep("v0.1.0", nil), "v0.1.0"},
		{"a dependency replaced by another version", dep("v0.1.0", &debug.Module{Path: "example.com/fork", Version: "v0.1.1"}), "v0.1.1"},
		{"a dependency replaced by a directory: the commit is the host's", dep("v0.1.0", &debug.Module{Path: "../refkit"}), "(devel)"},
		{"devel with the commit", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}, Settings: vcs},
			"(devel) revision 5d02521a3b4c 2026-12-02T11:55:00Z modified"},
		{"devel, clean, short revision", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, "(devel) revision abc"},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Path: modulePath}}, "(devel)"},
		{"not in the binary at all", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v1.2.3"}}, "(devel)"},
		{"no build information", nil, "(devel)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, moduleVersion(tc.bi))
		})
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"version"}, nil, &out, &errOut), errOut.String())
	bi, ok := debug.ReadBuildInfo()
	require.True(t, ok, "test binaries carry build information")
	want := "refkit " + moduleVersion(bi) + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	require.Equal(t, want, out.String())
	require.Empty(t, errOut.String())
	require.True(t, strings.HasPrefix(out.String(), "refkit (devel)") || strings.HasPrefix(out.String(), "refkit v"), out.String())

	out.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"version", "extra"}, nil, &out, &errOut))
	require.Empty(t, out.String())
	require.Contains(t, errOut.String(), `unexpected argument "extra"`)
}
