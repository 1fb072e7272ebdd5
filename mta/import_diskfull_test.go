package mta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestImportOnFullTempDiskSaysDiskFull: an import of a configuration with
// a hash table, while the disk of the temporary directory (where the
// import builds a copy of the table to compare with the live .db) had
// room for the table's source but not for its .db. postmap failed
// ("fatal: ...: No space left on device") and the import went on,
// leaving the table unmanaged because "postmap warns about its source",
// which reads as if the administrator's table were wrong. Now the import
// answers the disk-full sentence, and with space again the same table
// is imported as a map.
func TestImportOnFullTempDiskSaysDiskFull(t *testing.T) {
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	dir := filepath.Join(base, "orig")
	tmp := filepath.Join(base, "tmp")
	for _, d := range []string{dir, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// 54 kB of source, whose hash .db takes about 100 kB.
	var b strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&b, "d%07d.example.test smtp:[relay.example.test]\n", i)
	}
	src := filepath.Join(dir, "transport")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	writeBackdated(t, filepath.Join(dir, "main.cf"), "myhostname = mail.example.test\ntransport_maps = hash:"+src+"\n")
	writeBackdated(t, filepath.Join(dir, "master.cf"), "smtp      inet  n       -       y       -       -       smtpd\n"+postfix.DebianServices)
	ctx := context.Background()
	pf := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: dir}
	if _, stderr, err := pf.Run(ctx, nil, "postmap", "hash:"+src); err != nil {
		t.Fatalf("postmap: %v %s", err, stderr)
	}

	postfixtest.MountTmpfs(t, tmp, 4<<20)
	t.Setenv("TMPDIR", tmp)
	unfill := postfixtest.FillTo(t, filepath.Join(tmp, "filler"), 96<<10)
	res, err := ImportConfig(ctx, pf, dir)
	var ue *store.UserError
	if err == nil || !errors.As(err, &ue) || !errors.Is(ue.Kind, store.ErrUnavailable) ||
		!strings.Contains(err.Error(), "the disk that holds the temporary directory "+tmp+" is full") ||
		strings.Contains(err.Error(), "postmap") {
		var unmanaged []UnmanagedTable
		if res != nil {
			unmanaged = res.Unmanaged
		}
		t.Fatalf("import on a full temporary disk: %v (unmanaged %+v), want the sentence that the disk of the temporary directory is full", err, unmanaged)
	}

	unfill()
	res, err = ImportConfig(ctx, pf, dir)
	if err != nil {
		t.Fatalf("the same import with space again: %v", err)
	}
	if len(res.Unmanaged) != 0 || len(res.Maps) != 1 {
		t.Fatalf("import with space again: maps %+v, unmanaged %+v, want the transport table as a map", res.Maps, res.Unmanaged)
	}
}
