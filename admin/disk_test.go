package admin

import (
	"context"
	"strings"
	"testing"
)

// TestDiskBannersFollowTheLimits: no banner while a file system has
// twice its limit free, a warning below that (the part still works), an
// error below the limit (Postfix refuses mail; postdeck may not spool or
// save), each naming the directory, what is free and what to do.
func TestDiskBannersFollowTheLimits(t *testing.T) {
	const mib = 1 << 20
	queue := DiskSpace{Role: DiskPostfixQueue, Dir: "/var/spool/postfix", Total: 1000 * mib, Limit: 75 * mib}
	data := DiskSpace{Role: DiskPostdeckData, Dir: "/var/lib/postdeck", Total: 1000 * mib, Limit: 75 * mib}
	for _, c := range []struct {
		free       uint64
		kind, want string
	}{
		{150 * mib, "", ""},
		{150*mib - 1, "warning", "nearly full: 150.0 MiB free of 1000.0 MiB. Below 75.0 MiB free"},
		{75 * mib, "warning", "nearly full"},
		{75*mib - 1, "error", "has 75.0 MiB free of 1000.0 MiB, less than the 75.0 MiB"},
	} {
		queue.Free, data.Free = c.free, c.free
		got := diskBanners([]DiskSpace{queue, data})
		if c.kind == "" {
			if len(got) != 0 {
				t.Errorf("%d bytes free: %+v", c.free, got)
			}
			continue
		}
		if len(got) != 2 || got[0].Kind != c.kind || got[1].Kind != c.kind {
			t.Fatalf("%d bytes free: %+v", c.free, got)
		}
		if !strings.Contains(got[0].Text, "Postfix's queue (/var/spool/postfix)") || !strings.Contains(got[0].Text, c.want) || !strings.Contains(got[0].Text, "452 4.3.1") {
			t.Errorf("%d bytes free: queue banner %q", c.free, got[0].Text)
		}
		if !strings.Contains(got[1].Text, "postdeck's data directory (/var/lib/postdeck)") || !strings.Contains(got[1].Text, c.want) || !strings.Contains(got[1].Text, "Free space on it") {
			t.Errorf("%d bytes free: data banner %q", c.free, got[1].Text)
		}
	}
}

// TestQueueMinFreeFromTheDocument: queue_minfree set in the main config
// document raises the queue's limit; unset or not a number, Postfix's
// default (0) holds.
func TestQueueMinFreeFromTheDocument(t *testing.T) {
	for doc, want := range map[string]uint64{
		"queue_minfree = 200000000\n": 200000000,
		"# queue_minfree = 5\n":       0,
		"queue_minfree = $x\n":        0,
	} {
		if got := queueMinFree(doc); got != want {
			t.Errorf("queueMinFree(%q) = %d, want %d", doc, got, want)
		}
	}
}

// TestMetricsWithoutAStore: a Service without a store (the route tests
// build one; webui registers its metrics collector, and the registry
// collects once at once) measured the data directory through the nil
// store and panicked in a goroutine of the registry's.
func TestMetricsWithoutAStore(t *testing.T) {
	s := New(Config{})
	if m := s.Metrics(context.Background()); len(m.Disks) != 0 {
		t.Fatalf("disks without a store: %+v", m.Disks)
	}
}
