package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/demo"
)

// TestReadmeCommands runs the shell examples README.md shows, so they cannot rot.
func TestReadmeCommands(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		check func(t *testing.T, out []byte)
	}{
		{"screen hunger vital sign", []string{"screen", "--instrument", "hunger-vital-sign"},
			`{"answers":{"88122-7":"Often true","88123-5":"Never true"}}`,
			func(t *testing.T, out []byte) {
				var got struct {
					PositiveDomains []string `json:"positive_domains"`
				}
				require.NoError(t, json.Unmarshal(out, &got))
				require.Equal(t, []string{"food-insecurity"}, got.PositiveDomains)
			}},
		{"list instruments", []string{"screen", "--list"}, "", func(t *testing.T, out []byte) {
			require.Contains(t, string(out), `"ahc-hrsn"`)
		}},
		{"match the sample directory", []string{"match", "--directory", "testdata/directory.json", "--request", "testdata/request.json"}, "",
			func(t *testing.T, out []byte) {
				var got matchOutput
				require.NoError(t, json.Unmarshal(out, &got))
				var ids []string
				for _, m := range got.Matches {
					ids = append(ids, m.ServiceID)
				}
				require.ElementsMatch(t, []string{"0190a6f0-8a4b-7c3d-9e2f-000000000001", "0190a6f0-8a4b-7c3d-9e2f-000000000002"}, ids)
				var excluded []string
				for _, e := range got.Excluded {
					excluded = append(excluded, e.ServiceID)
				}
				require.ElementsMatch(t, []string{"0190a6f0-8a4b-7c3d-9e2f-000000000003", "0190a6f0-8a4b-7c3d-9e2f-000000000004"}, excluded,
					"the veterans desk fails its rule, the closed pantry is inactive")
			}},
		{"simulate the example scenario", []string{"simulate", "--scenario", "../../examples/simulation/scenario.json",
			"--seed", "1", "--replications", "4", "--plots"}, "",
			func(t *testing.T, out []byte) {
				require.Contains(t, string(out), "4 replication(s)")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if tc.args[0] == "simulate" {
				tc.args = append(tc.args, "--out", t.TempDir())
			}
			code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			tc.check(t, out.Bytes())
		})
	}
}

// TestReadmeDirectoryExchange runs the README's import-then-match example.
func TestReadmeDirectoryExchange(t *testing.T) {
	code, directory, errOut := runCmd(t, "", "hsds", "import", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa",
		"../../interop/hsds/testdata/json/services.json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, directory, `fpl_percent <= 200"`, "rules read as written, not HTML-escaped")
	file := filepath.Join(t.TempDir(), "directory.json")
	require.NoError(t, os.WriteFile(file, []byte(directory), 0o600))

	code, out, errOut := runCmd(t, "", "match", "--directory", file, "--request", "testdata/request-austin.json")
	require.Equal(t, 0, code, errOut)
	var got matchOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.NotEmpty(t, got.Matches, "the Austin sample has food and shelter services near the request")
	for _, m := range got.Matches {
		require.NotEmpty(t, m.ServiceID)
	}
}

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	return string(data)
}

// TestReadmeQuotesQuickstart keeps the README's code sample identical to the
// region of examples/quickstart that its own test runs.
func TestReadmeQuotesQuickstart(t *testing.T) {
	src, err := os.ReadFile("../../examples/quickstart/main.go")
	require.NoError(t, err)
	begin, end := "// README:begin\n", "\n// README:end"
	i, j := strings.Index(string(src), begin), strings.Index(string(src), end)
	require.True(t, i >= 0 && j > i, "examples/quickstart/main.go marks the quoted region")
	region := strings.TrimRight(string(src[i+len(begin):j]), "\n") + "\n"
	requireSays(t, "```go\n"+region+"```\n")
	require.LessOrEqual(t, strings.Count(region, "\n"), 35, "the sample stays short")
}

// TestReadmeStartsWithTheTwoCommands: the first shell block is the main job on
// SQLite and the tests, as .ci/run runs them.
func TestReadmeStartsWithTheTwoCommands(t *testing.T) {
	text := readme(t)
	i := strings.Index(text, "```sh\n")
	require.GreaterOrEqual(t, i, 0)
	block := text[i+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	require.Equal(t, []string{"go run ./cmd/refkit demo", "go test -race ./..."}, cmds)
	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	for _, cmd := range cmds {
		require.Contains(t, string(ci), cmd, ".ci/run runs README's commands")
	}
}

// TestReadmeLinks checks every relative link in README.md points at a file in
// the repository; links outside it (the shared design notes) are not checked.
func TestReadmeLinks(t *testing.T) {
	links := regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`).FindAllStringSubmatch(readme(t), -1)
	require.NotEmpty(t, links)
	for _, l := range links {
		target := l[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "../") {
			continue
		}
		_, err := os.Stat(filepath.Join("../..", target))
		require.NoError(t, err, "README links to %s", target)
	}
}

// TestReadmeSampleFigures keeps the README's description of the demo's sample
// true.
func TestReadmeSampleFigures(t *testing.T) {
	sample, err := demo.LoadSample()
	require.NoError(t, err)
	requireSays(t, fmt.Sprintf("(%d services from %d organizations,", len(sample.Services), len(sample.Organizations)))
	requireSays(t, fmt.Sprintf("screens %s people", numberWord(len(sample.People))))
}

// requireSays fails, without printing the whole README, unless README.md
// contains want.
func requireSays(t *testing.T, want string) {
	t.Helper()
	require.Truef(t, strings.Contains(readme(t), want), "README.md does not say:\n%s", want)
}

func numberWord(n int) string {
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	if n < len(words) {
		return words[n]
	}
	return fmt.Sprint(n)
}

// TestReadmeInstall keeps the README's install commands true: the module path
// is go.mod's, the command is this package, and the refkit lines run.
func TestReadmeInstall(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(gomod), "\n")
	require.Equal(t, "module "+modulePath, first)
	requireSays(t, "go get "+modulePath+"@latest\n")
	requireSays(t, "go install "+modulePath+"/cmd/refkit@latest\n")
	for _, line := range []string{"refkit version", "refkit help"} {
		requireSays(t, "\n"+line+" ")
		code, out, errOut := runCmd(t, "", strings.Fields(line)[1:]...)
		require.Equal(t, 0, code, errOut)
		require.True(t, strings.HasPrefix(out, "refkit ") || strings.HasPrefix(out, "usage: refkit"), out)
	}
}
