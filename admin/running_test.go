package admin

import (
	"context"
	"testing"
)

// TestRunningCacheForgetsOnChange: within runningTTL the answer is
// reused, a change (forget) makes the next question probe again, and an
// answer probed while a change happened is not kept.
func TestRunningCacheForgetsOnChange(t *testing.T) {
	var rc runningCache
	probes, state := 0, true
	probe := func(context.Context) bool { probes++; return state }
	ctx := context.Background()
	if !rc.get(ctx, probe) || probes != 1 {
		t.Fatalf("first: probes %d", probes)
	}
	state = false
	if !rc.get(ctx, probe) || probes != 1 {
		t.Fatalf("within the TTL: probes %d", probes)
	}
	rc.forget()
	if rc.get(ctx, probe) || probes != 2 {
		t.Fatalf("after a change: probes %d", probes)
	}
	// A change made while probing: the answer serves its caller only.
	racing := func(context.Context) bool { probes++; rc.forget(); return true }
	rc.forget()
	if !rc.get(ctx, racing) {
		t.Fatal("the racing probe's answer")
	}
	if rc.get(ctx, probe) || probes != 4 {
		t.Fatalf("after a change during the probe: probes %d", probes)
	}
}
