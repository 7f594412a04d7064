package simulation

// level is a count that changes over time (people in service, people
// waiting), integrated into the buckets of the arrival period: area holds
// ∫ count dt per bucket (count × ns) and peak the highest count seen in it.
// Changes after the arrival period are not kept.
type level struct {
	value int
	last  int64
	area  []float64
	peak  []int32
}

func (l *level) init(buckets int) {
	l.area = make([]float64, buckets)
	l.peak = make([]int32, buckets)
}

// set records that the count becomes v at now (ns since start), buckets being
// width ns wide.
func (l *level) set(now int64, v int, width int64) {
	n := int64(len(l.area))
	end := n * width
	for t := l.last; t < min(now, end); {
		b := t / width
		next := min((b+1)*width, now)
		l.area[b] += float64(l.value) * float64(next-t)
		l.peak[b] = max(l.peak[b], int32(l.value))
		t = next
	}
	l.last = max(l.last, now)
	l.value = v
	if b := now / width; now >= 0 && b < n {
		l.peak[b] = max(l.peak[b], int32(v))
	}
}

// seriesState is the occupancy and queue of one service, or of all (index 0).
type seriesState struct {
	busy, queue level
}
