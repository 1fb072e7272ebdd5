package admin

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/bbolt"

	"postdeck/mta"
	"postdeck/store"
)

// loggedService is testService with its log kept in a buffer; each of
// more adds to its Config, which already holds the store and the logger.
func loggedService(t *testing.T, more ...func(*Config)) (*Service, *store.DB, *bytes.Buffer) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var logged bytes.Buffer
	cfg := Config{DB: db, Log: slog.New(slog.NewTextHandler(&logged, nil))}
	for _, f := range more {
		f(&cfg)
	}
	return New(cfg), db, &logged
}

// withMTA gives loggedService's Config an MTA manager (never started) for
// a private instance in base with its configuration in confDir.
func withMTA(t *testing.T, base, confDir string) func(*Config) {
	return func(c *Config) {
		m, err := mta.New(mta.Config{Instance: mta.Instance{ConfigDir: confDir, Private: true, BaseDir: base}}, c.DB, c.Log)
		if err != nil {
			t.Fatal(err)
		}
		c.MTA = m
	}
}

// TestAuditFailureKeepsInternalTextInTheLog: GET /api/v1/audit and the
// console show an internal failure's entry with a fixed detail; the
// error's own text (a path, the system's words) is in the log.
func TestAuditFailureKeepsInternalTextInTheLog(t *testing.T) {
	s, db, logged := loggedService(t)
	cause := &fs.PathError{Op: "open", Path: "/var/lib/postdeck/spool/x", Err: syscall.EACCES}
	s.auditFailure(Root, "save map x", cause)
	e := newest(t, db)
	if e.Result != ResultFailed || e.Detail != "internal error (postdeck's log has the details)" {
		t.Errorf("entry %+v", e)
	}
	if !strings.Contains(logged.String(), "/var/lib/postdeck/spool/x") {
		t.Errorf("the log lacks the error:\n%s", logged.String())
	}
}

// TestLoginInternalErrorKeepsTextInTheLog: a login that fails inside
// postdeck (a user record that does not decode) is audited with a fixed
// detail, and the decode error is in the log.
func TestLoginInternalErrorKeepsTextInTheLog(t *testing.T) {
	s, db, logged := loggedService(t)
	if err := db.Bolt().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("users")).Put([]byte("alice"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Login(context.Background(), LoginAttempt{Username: "alice", Password: "password of alice", Remote: "192.0.2.1", Channel: "API"})
	if err == nil {
		t.Fatal("a login with an undecodable user record went through")
	}
	e := newest(t, db)
	if e.Result != ResultLoginFailed || e.Detail != "API: internal error (postdeck's log has the details)" {
		t.Errorf("entry %+v", e)
	}
	if !strings.Contains(logged.String(), "decode users/alice") {
		t.Errorf("the log lacks the error:\n%s", logged.String())
	}
}
