package memlimit

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy values (see the package comment).
const (
	gcPercent = 400
	minLimit  = 48 << 20
	headroom  = 14 << 20
)

// Limit is the soft memory limit for a live heap of live bytes.
func Limit(live uint64) int64 {
	l := live + live*3/10 + headroom
	if l > math.MaxInt64 {
		return math.MaxInt64
	}
	return max(int64(l), minLimit)
}

// Apply sets GOGC=400 and the limit for the current live heap, unless
// GOGC or GOMEMLIMIT (each on its own) come from the environment. It
// reports whether the limit is this package's to follow (Run).
func Apply() bool {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetMemoryLimit(Limit(liveHeap()))
	return true
}

// Run keeps the limit in step with the live heap, every interval, until
// ctx ends. Call it only when Apply reported true.
func Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			debug.SetMemoryLimit(Limit(liveHeap()))
		}
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
