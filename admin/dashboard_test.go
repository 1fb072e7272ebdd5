package admin

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"postdeck/jobs"
	"postdeck/store"
)

// TestDashboardLogErrorIsPlain: when Postfix's log cannot be read (here
// the maillog is a directory: the read fails with the system's words),
// the dashboard, which every role sees, says so in plain words without
// the file's path or Go's error text; those go to postdeck's log.
func TestDashboardLogErrorIsPlain(t *testing.T) {
	base := t.TempDir()
	maillog := filepath.Join(base, "maillog")
	if err := os.MkdirAll(filepath.Join(maillog, "not-a-log"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The read fails only past the log's size: a directory's is its
	// block size on ext4 (this machine's file system); one of size 0
	// would read as an empty log, and the test could not show anything.
	if fi, err := os.Stat(maillog); err != nil || fi.Size() == 0 {
		t.Fatalf("the maillog directory has size 0 here (%v): this test needs a file system whose directories have a size", err)
	}
	s, _, logged := loggedService(t, withMTA(t, base, filepath.Join(base, "etc")))
	d, err := s.Dashboard(context.Background(), Identity{Name: "reader", Role: store.RoleAuditor, Via: ViaToken})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Postfix's log could not be read (postdeck's log has the details)."; d.LogError != want {
		t.Fatalf("log error %q, want %q", d.LogError, want)
	}
	if !strings.Contains(logged.String(), "is a directory") || !strings.Contains(logged.String(), maillog) {
		t.Errorf("postdeck's log lacks the detail:\n%s", logged.String())
	}
}

// TestLogProblemWords: a user error's sentence is shown as it is; a
// permission or a missing file is said in plain words.
func TestLogProblemWords(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{store.Unavailable("Postfix logs to syslog"), "Postfix logs to syslog."},
		{&os.PathError{Op: "open", Path: "/var/log/mail.log", Err: os.ErrPermission}, "Postfix's log could not be read: postdeck is not allowed to read it (postdeck's log has the details)."},
		{&os.PathError{Op: "open", Path: "/var/log/mail.log", Err: os.ErrNotExist}, "Postfix's log could not be found (postdeck's log has the details)."},
	} {
		if got := logProblem(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// TestDashboardSaysWhenSPFCannotBeRead: when the SPF sources' state
// cannot be read (here a job status record that does not decode), the
// dashboard says so among the parts it could not read, rather than
// showing "No SPF sources." for a gateway whose SPF maps may be failing;
// the decode error goes to postdeck's log.
func TestDashboardSaysWhenSPFCannotBeRead(t *testing.T) {
	base := t.TempDir()
	s, db, logged := loggedService(t, withMTA(t, base, filepath.Join(base, "etc")))
	ref, err := jobs.NewRefresher(jobs.RefresherConfig{DB: db, Maps: emptyMaps{}, Scheduler: jobs.NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil))),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRefresher(ref)
	if err := db.PutSPFSource(store.SPFSource{Domain: "partner.test", Map: "partner", Schedule: "@hourly", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Bolt().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("jobs")).Put([]byte(store.SPFJobName("partner")), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Dashboard(context.Background(), Identity{Name: "reader", Role: store.RoleAuditor, Via: ViaToken})
	if err != nil {
		t.Fatal(err)
	}
	if want := "The SPF sources could not be read."; !slices.Contains(d.Errors, want) {
		t.Fatalf("dashboard errors %q, SPF %+v: want %q", d.Errors, d.SPF, want)
	}
	if !strings.Contains(logged.String(), "spf") {
		t.Errorf("postdeck's log lacks the detail:\n%s", logged.String())
	}
}
