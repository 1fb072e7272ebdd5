package admin

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

	// A private instance never imports.
	priv := inst
	priv.Private, priv.BaseDir = true, filepath.Dir(dir)
	if ok, err := ImportOnFirstStart(ctx, db, priv, postfixtest.SbinDir, data, log); ok || err != nil {
		t.Fatalf("private: %v %v", ok, err)
	}
	ok, err := ImportOnFirstStart(ctx, db, inst, postfixtest.SbinDir, data, log)
	if !ok || err != nil {
		t.Fatalf("first start: %v %v", ok, err)
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
	if ok, err := ImportOnFirstStart(ctx, db, inst, postfixtest.SbinDir, data, log); ok || err != nil {
		t.Fatalf("second start: %v %v", ok, err)
	}
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
	ok, err := ImportOnFirstStart(context.Background(), db, inst, postfixtest.SbinDir, data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if ok || err != nil {
		t.Fatalf("no main.cf: %v %v", ok, err)
	}
	if seeded, _ := db.Initialized(); seeded {
		t.Errorf("the database was seeded without a main.cf to import")
	}
}
