package memory_test

import (
	"testing"

	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/storagetest"
)

// BenchmarkStore runs the workload every backend runs (storagetest.Benchmark).
func BenchmarkStore(b *testing.B) {
	storagetest.Benchmark(b, func(b *testing.B) storage.Store {
		s := memory.New()
		b.Cleanup(func() { s.Close() })
		return s
	})
}
