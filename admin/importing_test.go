package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// importFixture is a small system Postfix configuration: main.cf with two
// hash tables (one of them the private SASL map) and Debian's master.cf.
func importFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(postfixtest.Dir(t), "etc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", "# a gateway\nmyhostname = mx1.gw.example.org\nrelay_domains = example.org\n"+
		"transport_maps = hash:"+dir+"/transport\nsmtp_sasl_password_maps = hash:"+dir+"/sasl_passwd\n"+
		"compatibility_level = 3.6\n", 0o644)
	write("master.cf", "smtp      inet  n       -       y       -       -       smtpd\n"+postfix.DebianServices, 0o644)
	write("transport", "example.org smtp:[inside.example.org]\n", 0o644)
	write("sasl_passwd", "[relay.example.net]:587 user:secret\n", 0o600)
	for _, m := range []string{"transport", "sasl_passwd"} {
		if out, err := postfixtest.Command(t, "postmap", "-c", dir, "hash:"+filepath.Join(dir, m)); err != nil {
			t.Fatalf("postmap %s: %v %s", m, err, out)
		}
	}
	return dir
}

func TestImportOnFirstStart(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := importFixture(t)
	data := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	inst := mta.Instance{ConfigDir: dir, SMTPListen: ":25", ReinjectListen: "127.0.0.1:10026"}
	opts := FirstStartOptions{Instance: inst, SbinDir: postfixtest.SbinDir, BackupRoot: data}

	// A private instance never imports.
	priv := opts
	priv.Instance.Private, priv.Instance.BaseDir = true, filepath.Dir(dir)
	if fs, err := ImportOnFirstStart(ctx, db, priv, log); fs.Imported || fs.Held != "" || err != nil {
		t.Fatalf("private: %+v %v", fs, err)
	}
	fs, err := ImportOnFirstStart(ctx, db, opts, log)
	if !fs.Imported || fs.Held != "" || err != nil {
		t.Fatalf("first start: %+v %v", fs, err)
	}
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.Hostname != "mx1.gw.example.org" || !strings.Contains(st.MainConfig, "maps.d/hash.transport") {
		t.Errorf("stored state: %+v\n%s", st.Settings, st.MainConfig)
	}
	backups, _ := filepath.Glob(filepath.Join(data, "import-backup-*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	for _, f := range []string{"main.cf", "transport", "transport.db", "sasl_passwd"} {
		a, errA := os.ReadFile(filepath.Join(dir, f))
		b, errB := os.ReadFile(filepath.Join(backups[0], f))
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("backup of %s: %v %v", f, errA, errB)
		}
	}
	if fi, err := os.Stat(filepath.Join(backups[0], "sasl_passwd")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup keeps sasl_passwd private: %v %v", fi.Mode(), err)
	}
	es, err := db.ListAudit(10)
	if err != nil || len(es) != 1 || es[0].Action != "import" || es[0].Actor != "system" || !strings.Contains(es[0].Detail, backups[0]) {
		t.Errorf("audit: %+v %v", es, err)
	}
	// Seeded: the next start does not import again.
	if fs, err := ImportOnFirstStart(ctx, db, opts, log); fs.Imported || fs.Held != "" || err != nil {
		t.Fatalf("second start: %+v %v", fs, err)
	}
}

// TestFirstStartHoldsWhenTakingOverChangesPostfix: when the import's
// check finds a difference besides the MPA's wiring and the map paths
// (here message_size_limit = 0, which Message Size Limit cannot hold), the
// first start stores nothing, says why in the log, the audit log and the
// status (last apply "held"), and the Manager refuses every apply: the
// original files stay byte-identical.
func TestFirstStartHoldsWhenTakingOverChangesPostfix(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	dir := importFixture(t)
	mainCF := filepath.Join(dir, "main.cf")
	orig, err := os.ReadFile(mainCF)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mainCF, append(orig, "message_size_limit = 0\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, dir)
	data := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	inst := mta.Instance{ConfigDir: dir, SMTPListen: ":25", MPAListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)), ReinjectListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))}
	fs, err := ImportOnFirstStart(ctx, db, FirstStartOptions{Instance: inst, SbinDir: postfixtest.SbinDir, BackupRoot: data}, log)
	if err != nil || fs.Imported || !strings.Contains(fs.Held, "message_size_limit would change from \"0\"") {
		t.Fatalf("first start: %+v %v", fs, err)
	}
	if seeded, _ := db.Initialized(); seeded {
		t.Errorf("the database was seeded although postdeck holds")
	}
	if !strings.Contains(logged.String(), "does not take over") || !strings.Contains(logged.String(), "message_size_limit") {
		t.Errorf("log: %s", logged.String())
	}
	if es, _ := db.ListAudit(10); len(es) != 1 || es[0].Result != mta.ResultHeld {
		t.Errorf("audit: %+v", es)
	}
	m, err := mta.New(mta.Config{Instance: inst, SbinDir: postfixtest.SbinDir}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	m.Hold(fs.Held)
	svc := New(Config{DB: db, MTA: m, Log: log})
	status, err := svc.Status(ctx, System("test"))
	if err != nil {
		t.Fatal(err)
	}
	if status.LastApply.Result != mta.ResultHeld || !strings.Contains(status.LastApply.Message, "message_size_limit") {
		t.Errorf("status: %+v", status.LastApply)
	}
	if _, err := svc.ApplyAtStart(ctx); !errors.Is(err, store.ErrConflict) {
		t.Errorf("apply at start while held: %v", err)
	}
	s := store.DefaultSettings()
	s.Hostname = "other.example.org"
	if _, err := svc.SaveSettings(ctx, System("test"), SettingsDoc{Settings: s}); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "has not taken over Postfix") {
		t.Errorf("settings while held: %v", err)
	}
	if after := dirFiles(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the original configuration changed while held")
	}
}

// dirFiles reads every file of a directory tree.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportOnFirstStartWithoutMainCF(t *testing.T) {
	postfixtest.Require(t)
	data := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	inst := mta.Instance{ConfigDir: postfixtest.Dir(t), SMTPListen: ":25"}
	fs, err := ImportOnFirstStart(context.Background(), db, FirstStartOptions{Instance: inst, SbinDir: postfixtest.SbinDir, BackupRoot: data}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if fs.Imported || fs.Held != "" || err != nil {
		t.Fatalf("no main.cf: %+v %v", fs, err)
	}
	if seeded, _ := db.Initialized(); seeded {
		t.Errorf("the database was seeded without a main.cf to import")
	}
}

// TestSaveImportTwiceInOneSecond: the originals of each import get their
// own import-backup directory, also when two imports fall within the same
// second (a script's import, then import --force). The second was refused
// ("import-backup-TIME already exists") although nothing was wrong.
func TestSaveImportTwiceInOneSecond(t *testing.T) {
	src, data, db, res := importedFixture(t)
	seen := map[string]bool{}
	for i := range 3 {
		backup, err := SaveImport(db, System("cli"), src, data, res)
		if err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if seen[backup] {
			t.Fatalf("import %d reused %s", i+1, backup)
		}
		seen[backup] = true
		if b, err := os.ReadFile(filepath.Join(backup, "main.cf")); err != nil || !strings.Contains(string(b), "myhostname = mx1.gw.example.org") {
			t.Errorf("import %d: %s/main.cf: %v %q", i+1, backup, err, b)
		}
	}
}

// TestSaveImportAuditAgreesInNumber: the import's audit entry says "1
// map (1 table left as it is)", not "1 maps (1 tables left as they
// are)".
func TestSaveImportAuditAgreesInNumber(t *testing.T) {
	src, data, db, res := importedFixture(t)
	if len(res.Maps) < 2 {
		t.Fatalf("the fixture imports %d maps: want two or more", len(res.Maps))
	}
	left := []mta.UnmanagedTable{{Ref: "mysql:/etc/postfix/a.cf", Params: []string{"virtual_alias_maps"}, Reason: "mysql is not a type postdeck manages"},
		{Ref: "mysql:/etc/postfix/b.cf", Params: []string{"relay_domains"}, Reason: "mysql is not a type postdeck manages"}}
	for _, tc := range []struct {
		maps, left int
		want       string
	}{{1, 1, " with 1 map (1 table left as it is);"}, {2, 2, " with 2 maps (2 tables left as they are);"}} {
		one := *res
		one.Maps, one.Unmanaged = res.Maps[:tc.maps], left[:tc.left]
		if _, err := SaveImport(db, System("cli"), src, data, &one); err != nil {
			t.Fatal(err)
		}
		entries, err := db.ListAudit(1)
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit: %v %v", entries, err)
		}
		if !strings.Contains(entries[0].Detail, tc.want) {
			t.Errorf("audit entry %q lacks %q", entries[0].Detail, tc.want)
		}
	}
}

// importedFixture imports importFixture's configuration: its directory,
// a data directory with an open store, and the import's result.
func importedFixture(t *testing.T) (src, data string, db *store.DB, res *mta.ImportResult) {
	t.Helper()
	postfixtest.Require(t)
	src = importFixture(t)
	data = t.TempDir()
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err = mta.ImportWith(ctx, src, mta.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return src, data, db, res
}
