package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzServeConfigFile: whatever the config file holds, resolving the settings
// either succeeds or fails with an error; it never panics.
func FuzzServeConfigFile(f *testing.F) {
	f.Add([]byte(`{"addr": "127.0.0.1:1", "metrics": false, "max-body": 10}`))
	f.Add([]byte(`{"network-deadlines": {"0190a6f0-8a4b-7c3d-9e2f-0000000000aa": {"acknowledge": "1h"}}}`))
	f.Add([]byte(`{"leeway": [1], "x": null}`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "c.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Skip()
		}
		c := &serveCmd{}
		fs := newFlagSet("serve", c)
		if err := fs.Parse([]string{"--config", file, "--jwks-file", "k", "--issuer", "i", "--audience", "a"}); err != nil {
			t.Fatal(err)
		}
		_ = c.cfg.resolve(c.settings, func(string) string { return "" })
	})
}
