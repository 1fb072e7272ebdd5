package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/queue"
	"postdeck/store"
	"postdeck/webui"
)

// TestCLIStatusPrintsWhatCouldNotBeRead: `postdeck status` failed with
// the daemon's internal error when the queue or the MPA's counts could
// not be read (GET /api/v1/status was a 500), although Postfix's state
// and the last apply were known. It now prints them and a problem line
// for each part that could not be read. The daemon here is postdeck's
// own admin and console over the trusted socket, with real parts that
// fail: postqueue, for a Postfix configuration directory that does not
// exist, and the MPA's counts, whose database is closed.
func TestCLIStatusPrintsWhatCouldNotBeRead(t *testing.T) {
	postfixtest.Require(t)
	base := t.TempDir()
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgr, err := mta.New(mta.Config{Instance: mta.Instance{ConfigDir: filepath.Join(base, "no-such-etc"), Private: true, BaseDir: filepath.Join(base, "postfix")}}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mpa.New(mpa.Config{Listen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)), ReinjectAddr: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
		SpoolDir: filepath.Join(base, "mpa")}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(admin.Config{DB: db, MTA: mgr, MPA: m, Log: log, Queue: queue.New(mgr.Postfix(), log)})
	srv := webui.New(webui.Config{}, webui.Deps{Admin: ops, Log: log})
	sock := filepath.Join(base, "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln, true) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	// A commit of the MPA's (forgetting no entry) moves the store's count
	// generation, so the counts are read from the closed database.
	if _, err := db.MPAErrorForget(nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Postfix stopped and two parts not read: three errors, exit 1.
	out, err := captureStdout(t, func() error { return cmdStatus([]string{"--socket", sock}) })
	if err == nil || err.Error() != "the gateway needs attention: 3 errors above" {
		t.Fatalf("postdeck status: %v\n%s", err, out)
	}
	for _, want := range []string{"postfix:     stopped", "last apply:", "problem:     " + admin.MPACountsProblem + "\n", "problem:     The queue could not be read: "} {
		if !strings.Contains(out, want) {
			t.Errorf("postdeck status lacks %q:\n%s", want, out)
		}
	}
	for _, no := range []string{"no-such-etc", "database not open", "postqueue:"} {
		if strings.Contains(out, no) {
			t.Errorf("postdeck status prints %q:\n%s", no, out)
		}
	}
}
