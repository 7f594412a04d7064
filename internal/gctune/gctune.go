// Package gctune sets the garbage collector for a program whose heap is
// mostly long-lived and growing, like a simulation's: its memory store keeps
// every referral and event until the replication ends, while its garbage is
// short-lived per-search and per-transition memory.
//
// Collector work is about (bytes allocated) × (live heap marked per cycle) /
// (heap growth allowed between cycles). At Go's default (GOGC=100) a
// 1,000,000-referral replication spent a quarter of its CPU marking; a high
// GOGC lets the heap grow several times the live data between cycles, which
// costs memory instead. Start sets GOGC=400 under a memory limit that keeps
// the heap small while the live data is (Floor: the heap may grow to it
// before a cycle, so a growing store is marked rarely early on) and, once
// the live data passes two thirds of Floor, follows it at 3/2 of the live
// data, never above half the machine's memory. The limit is soft: the
// runtime lets the heap pass it rather than collect without end.
package gctune

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Percent is the collector's growth target (GOGC) while tuned.
const Percent = 400

// Floor is the lowest memory limit set: a 1,000,000-referral replication
// (about 2.1 GiB live at its end) stays under 4 GiB of resident memory.
const Floor = 3328 << 20 // 3.25 GiB

// The memory limit is HeadroomNum/HeadroomDen (3/2) of the live heap once
// that passes Floor × HeadroomDen/HeadroomNum.
const (
	HeadroomNum = 3
	HeadroomDen = 2
)

// every is how often the live heap is read.
const every = 100 * time.Millisecond

// Limit is the memory limit for a live heap of live bytes on a machine with
// memory bytes: 3/2 of live, at least Floor, and never above half the
// memory (on a machine with less than twice Floor, always half).
func Limit(live, memory uint64) int64 {
	return limit(live, memory, Floor)
}

func limit(live, memory uint64, floor int64) int64 {
	l := uint64(math.MaxInt64)
	if live <= l/HeadroomNum {
		l = live / HeadroomDen * HeadroomNum
	}
	l = min(max(l, uint64(floor)), memory/2, math.MaxInt64)
	return int64(l)
}

// Start tunes the collector for a machine with memory bytes (0 when
// unknown: nothing is changed) until the returned function is called, which
// restores the settings Start found.
func Start(memory uint64) (stop func()) {
	return start(memory, Floor, every)
}

// start is Start with its floor and polling period as parameters, for tests.
func start(memory uint64, floor int64, every time.Duration) (stop func()) {
	if memory == 0 {
		return func() {}
	}
	prevLimit := debug.SetMemoryLimit(limit(0, memory, floor))
	prevPercent := debug.SetGCPercent(Percent)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(every)
		defer tick.Stop()
		set := limit(0, memory, floor)
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				continue
			}
			if l := limit(sample[0].Value.Uint64(), memory, floor); l != set {
				debug.SetMemoryLimit(l)
				set = l
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}
}
