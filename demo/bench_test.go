package demo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/refkit/refkit/demo"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/sqlite"
)

// BenchmarkRun plays the whole sample (directory load, index build, six
// screenings, 18 referrals through their stories, 21 sweeps, the report) on
// each embedded store: what `refkit demo` costs beyond process start.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	sample, err := demo.LoadSample()
	if err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name string
		open func(i int) (storage.Store, error)
	}{
		{"memory", func(int) (storage.Store, error) { return memory.New(), nil }},
		{"sqlite", func(i int) (storage.Store, error) {
			return sqlite.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("demo-%d.db", i)), sqlite.Options{})
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				store, err := s.open(i)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := demo.Run(ctx, store, demo.Options{Sample: sample}); err != nil {
					b.Fatal(err)
				}
				store.Close()
			}
		})
	}
}
