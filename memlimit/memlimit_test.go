package memlimit

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, 48 << 20},
		{8 << 20, 48 << 20},
		{40 << 20, 40<<20 + 12<<20 + 14<<20},
		{100 << 20, 144 << 20},
	} {
		if got := Limit(tc.live); got != tc.want {
			t.Errorf("Limit(%d MiB) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// TestRunFollowsTheLiveHeap: with 128 MiB live, the limit Run sets is
// above it (the collector is not driven into running without pause) and
// comes back down when the data is gone.
func TestRunFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if !Apply() {
		t.Fatal("Apply says the limit is not its own")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx, 10*time.Millisecond)
	data := make([][]byte, 128)
	for i := range data {
		data[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	waitLimit(t, func(l int64) bool { return l >= 128<<20+128<<20*3/10 }, "above the live 128 MiB")
	runtime.KeepAlive(data)
	data = nil
	runtime.GC()
	runtime.GC()
	waitLimit(t, func(l int64) bool { return l < 128<<20 }, "back down")
}

func waitLimit(t *testing.T, ok func(int64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := debug.SetMemoryLimit(-1)
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the limit is %d MiB, not %s", l>>20, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestApplyLeavesTheEnvironmentsSettings: GOGC from the environment is
// not overridden, and with GOMEMLIMIT set Apply leaves the limit alone
// and says the limit is not its own (Run must not follow the heap).
func TestApplyLeavesTheEnvironmentsSettings(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(123))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(777 << 20))
	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "777MiB")
	if Apply() {
		t.Error("Apply claims the limit though GOMEMLIMIT is set")
	}
	if p := debug.SetGCPercent(123); p != 123 {
		t.Errorf("GOGC=50 in the environment, yet Apply set the GC percent to %d", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 777<<20 {
		t.Errorf("GOMEMLIMIT in the environment, yet Apply set the limit to %d MiB", l>>20)
	}
	// Each on its own: GOMEMLIMIT alone still gets GOGC=400.
	t.Setenv("GOGC", "")
	if Apply() {
		t.Error("Apply claims the limit though GOMEMLIMIT is set")
	}
	if p := debug.SetGCPercent(123); p != gcPercent {
		t.Errorf("no GOGC in the environment: GC percent %d, want %d", p, gcPercent)
	}
}
