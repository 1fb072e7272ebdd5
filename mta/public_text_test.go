package mta

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postdeck/postfix"
)

// assertNoInternalText fails when text, which clients see, holds what
// only the log may: a path or Go's wording of a system error.
func assertNoInternalText(t *testing.T, what, text string, internal ...string) {
	t.Helper()
	for _, s := range append(internal, "/etc/postfix", "rename ", "fork/exec", "no such file or directory") {
		if strings.Contains(text, s) {
			t.Errorf("%s %q shows %q", what, text, s)
		}
	}
}

// TestApplyErrorShowsNoInternalText: a failed rollback's error (a rename
// of the backup, with both paths) stays out of the answer, which says
// that restoring failed, the plain cause and where the detail is; a
// failed restore's Postfix words are shown.
func TestApplyErrorShowsNoInternalText(t *testing.T) {
	rename := &os.LinkError{Op: "rename", Old: "/etc/postfix/.postdeck-backup/main.cf", New: "/etc/postfix/main.cf", Err: syscall.EACCES}
	ae := &ApplyError{Stage: "reload", PostfixSaid: "fatal: bad thing", RollbackErr: rename}
	msg := ae.Error()
	assertNoInternalText(t, "answer", msg)
	for _, want := range []string{"fatal: bad thing", "restoring the previous configuration failed too", "permission denied", "postdeck's log has the details"} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer %q lacks %q", msg, want)
		}
	}
	assertNoInternalText(t, "RollbackSaid", ae.RollbackSaid())

	ae.RollbackErr = &shownError{said: "fatal: the old main.cf is bad too", err: errors.New("exit status 1")}
	if got := ae.RollbackSaid(); got != "fatal: the old main.cf is bad too" {
		t.Errorf("a failed restore's words: %q", got)
	}
}

// TestNotDurableSaysNoPath: new files whose directory fsync failed are an
// ApplyError that says so in a sentence, with the disk full in plain words.
func TestNotDurableSaysNoPath(t *testing.T) {
	live := notDurable(errors.Join(&fs.PathError{Op: "sync", Path: "/etc/postfix/maps.d", Err: syscall.ENOSPC}))
	if live.said != "the new files could not be written to disk: the disk is full" || !live.ours || live.err == nil {
		t.Fatalf("outcome %+v", live)
	}
	ae := &ApplyError{Stage: live.stage, PostfixSaid: live.said, ours: live.ours, RolledBack: true}
	assertNoInternalText(t, "answer", ae.Error(), "sync ")
	if ae.FromPostfix() || strings.Contains(ae.Error(), "Postfix refused") {
		t.Errorf("a failure of postdeck's own called Postfix's refusal: %q", ae.Error())
	}
}

// TestStartWithoutPostfixSaysNoPath: a Postfix command that cannot run
// (its directory is wrong) says so without the path or Go's words; the
// log has them.
func TestStartWithoutPostfixSaysNoPath(t *testing.T) {
	dir := t.TempDir()
	var logged bytes.Buffer
	m := &Manager{
		inst: Instance{ConfigDir: dir, BaseDir: dir, Private: true},
		pf:   postfix.Runner{SbinDir: filepath.Join(dir, "no-sbin"), ConfigDir: dir},
		log:  slog.New(slog.NewTextHandler(&logged, nil)),
	}
	live := m.makeLive(context.Background(), &Result{}, nil, nil, 0, false)
	if live.stage != "start" || !strings.Contains(live.said, "postfix check could not be run") {
		t.Fatalf("outcome %+v", live)
	}
	assertNoInternalText(t, "said", live.said, dir)
	if !strings.Contains(logged.String(), filepath.Join(dir, "no-sbin")) {
		t.Errorf("the log lacks the detail:\n%s", logged.String())
	}
}

// TestFailRecordsPlainSentence: the last apply, which every role reads at
// GET /api/v1/status, says an internal failure in a plain sentence; the
// error itself is logged and returned (for the log of the caller).
func TestFailRecordsPlainSentence(t *testing.T) {
	var logged bytes.Buffer
	m := &Manager{log: slog.New(slog.NewTextHandler(&logged, nil))}
	cause := &fs.PathError{Op: "open", Path: "/etc/postfix/main.cf", Err: syscall.EROFS}
	err := m.fail("tester", "settings", cause)
	last := m.LastApply()
	if last.Result != "failed" || last.Message != "the apply failed: the file system is read-only; postdeck's log has the details" {
		t.Errorf("last apply %+v", last)
	}
	if !errors.Is(err, cause) || !strings.Contains(logged.String(), "/etc/postfix/main.cf") {
		t.Errorf("returned %v; log:\n%s", err, logged.String())
	}
	_ = m.fail("tester", "settings", errors.New("bolt: database not open"))
	if got := m.LastApply().Message; got != "the apply failed on an internal error; postdeck's log has the details" {
		t.Errorf("last apply message %q", got)
	}
	// Postfix's words when it did not start.
	_ = m.fail("tester", "apply at start", &shownError{said: "postfix check: fatal: bad main.cf", err: errors.New("exit status 1")})
	if got := m.LastApply().Message; got != "the apply failed: postfix check: fatal: bad main.cf" {
		t.Errorf("last apply message %q", got)
	}
}
