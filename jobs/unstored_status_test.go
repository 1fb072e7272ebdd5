package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRefreshStatusKeptWhenItsWriteFails: a refresh that ran while the
// disk of postdeck's data directory was full could not store its status
// (PutJobStatus), and nothing kept it: the SPF page, the API and the
// metrics (Statuses) went on showing the previous run as if this one had
// not happened, and the answer was an internal error. Now the status
// readers show this run, with a warning that its status could not be
// stored because the disk is full, the answer says so, and once space is
// freed the next run stores its status and the warning is gone.
func TestRefreshStatusKeptWhenItsWriteFails(t *testing.T) {
	data := filepath.Join(postfixtest.Dir(t), "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	postfixtest.MountTmpfs(t, data, 4<<20)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // before the unmount
	dns := newTestDNS(t)
	sched := NewScheduler(testLogger(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sched.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	ref, err := NewRefresher(RefresherConfig{DB: db, Maps: newFakeMaps(), Scheduler: sched, Resolver: dns.Addr,
		QueryTimeout: 500 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutSPFSource(store.SPFSource{Domain: "root.test", Map: "spf", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
	if _, err := ref.RefreshNow(ctx, "tester", "spf"); err != nil {
		t.Fatal(err)
	}
	first, err := ref.Status(ctx, "spf")
	if err != nil || first.PrefixCount != 1 {
		t.Fatalf("the first run's status: %+v %v", first, err)
	}

	// The record adds 2000 networks (ten includes of 200; a record holds
	// at most 4096 bytes): the status's change lists them all, more than
	// the database file's free pages hold.
	top := "v=spf1 ip4:192.0.2.0/24"
	for j := 0; j < 10; j++ {
		var rec strings.Builder
		rec.WriteString("v=spf1")
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&rec, " ip4:11.%d.%d.1", j, i)
		}
		rec.WriteString(" -all")
		dns.txt(fmt.Sprintf("s%d.test", j), rec.String())
		top += fmt.Sprintf(" include:s%d.test", j)
	}
	dns.retxt("root.test", top+" -all")
	unfill := postfixtest.FillTo(t, filepath.Join(data, "filler"), 0)
	res, err := ref.RefreshNow(ctx, "tester", "spf")
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "the disk that holds postdeck's data directory is full") {
		t.Fatalf("a refresh whose status did not fit on the disk: %v, want the sentence that the data disk is full (result %+v)", err, res)
	}
	const warned = "This run's status could not be stored: the disk that holds postdeck's data directory is full."
	shows := func(st SourceStatus) bool {
		return st.LastRun.After(first.LastRun) && st.Outcome == OutcomeUpdated && st.PrefixCount == 2001 &&
			len(st.Warnings) > 0 && strings.HasPrefix(st.Warnings[len(st.Warnings)-1], warned)
	}
	if st, err := ref.Status(ctx, "spf"); err != nil || !shows(st) {
		t.Fatalf("the status after a run whose write failed: %+v %v, want that run, with a warning that its status is not stored", st, err)
	}
	list, err := ref.Statuses(ctx)
	if err != nil || len(list) != 1 || !shows(list[0]) {
		t.Fatalf("the statuses (the SPF page, the metrics) after a run whose write failed: %+v %v", list, err)
	}

	unfill()
	if _, err := ref.RefreshNow(ctx, "tester", "spf"); err != nil {
		t.Fatalf("a refresh with space again: %v", err)
	}
	stored, err := db.GetJobStatus(store.SPFJobName("spf"))
	if err != nil || stored.PrefixCount != 2001 || stored.Outcome != OutcomeUnchanged {
		t.Fatalf("the stored status with space again: %+v %v", stored, err)
	}
	if st, err := ref.Status(ctx, "spf"); err != nil || !st.LastRun.Equal(stored.LastRun) || len(st.Warnings) != 0 {
		t.Fatalf("the status with space again: %+v %v, want the stored one", st, err)
	}
}
