package store

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSharedExportImport: the shared buckets travel as stored; an import
// replaces them (keys gone are deleted) and keeps a newer local last use
// of a token.
func TestSharedExportImport(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutUser(User{Username: "alice", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddToken("secret-1", Token{Name: "t1", Role: RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	before, err := db.ExportShared()
	if err != nil {
		t.Fatal(err)
	}
	if len(before["users"]) != 1 || len(before["tokens"]) != 1 {
		t.Fatalf("export: %v", before)
	}
	used := time.Now().UTC().Truncate(time.Minute)
	if err := db.TouchToken(TokenKey("secret-1"), used); err != nil {
		t.Fatal(err)
	}
	gen := db.UsersGeneration()
	next := Shared{"users": {"bob": []byte(`{"username":"bob","role":"operator"}`)}, "tokens": before["tokens"]}
	if err := db.ImportShared(next); err != nil {
		t.Fatal(err)
	}
	if db.UsersGeneration() == gen {
		t.Error("an import did not move the users generation (sessions would not be checked again)")
	}
	if _, err := db.GetUser("alice"); err == nil {
		t.Error("alice survived an import without her")
	}
	if u, err := db.GetUser("bob"); err != nil || u.Role != RoleOperator {
		t.Fatalf("bob: %v %+v", err, u)
	}
	if exp, err := db.ExportShared(); err != nil || !exp.Equal(Shared{"users": next["users"], "tokens": before["tokens"]}) {
		t.Errorf("a token's last use shows in the shared export: %v %v", err, exp)
	}
	tok, err := db.LookupToken("secret-1")
	if err != nil || !tok.LastUsed.Equal(used) {
		t.Fatalf("token after import: %v %+v (want last use %v kept)", err, tok, used)
	}
	after, err := db.ExportShared()
	if err != nil {
		t.Fatal(err)
	}
	if after.Equal(before) {
		t.Error("Equal says the snapshots before and after the import are the same")
	}
	if m, err := db.LoadClusterMeta(); err != nil || m.Node != "" {
		t.Fatalf("a standalone database has cluster meta %+v %v", m, err)
	}
	if err := db.SaveClusterMeta(ClusterMeta{Node: "n1", Revision: 42}); err != nil {
		t.Fatal(err)
	}
	if m, err := db.LoadClusterMeta(); err != nil || m.Revision != 42 {
		t.Fatalf("cluster meta %+v %v", m, err)
	}
}
