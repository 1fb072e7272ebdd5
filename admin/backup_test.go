package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRestoreOfAnUnopenableBackupIsPlain: a backup whose database passed
// the checker but does not open (here the checker lets everything pass
// and the file is not a database) is refused with a plain sentence: the
// answer never shows the server's data path (store.Open names the probe
// copy's) or bbolt's words; the log has them.
func TestRestoreOfAnUnopenableBackupIsPlain(t *testing.T) {
	s, _, logged := loggedService(t, func(c *Config) {
		c.VerifyDB = func(ctx context.Context, path string) error { return nil }
	})

	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	junk := append(boltHeadOnly(), bytes.Repeat([]byte("not a database "), 1000)...)
	if err := tw.WriteHeader(&tar.Header{Name: backupDBName, Mode: 0o600, Size: int64(len(junk)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(junk); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := s.Restore(context.Background(), Root, &archive)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "file" {
		t.Fatalf("restore: %v, want a user error about the file", err)
	}
	want := "The uploaded backup is not a postdeck database or is damaged (postdeck's log has the details); it was not restored."
	if ue.Msg != want {
		t.Fatalf("restore answered %q, want %q", ue.Msg, want)
	}
	if !strings.Contains(logged.String(), ".probe") {
		t.Errorf("the log lacks store.Open's error:\n%s", logged.String())
	}
}

// boltHeadOnly is a page that begins as a bbolt file's first does (the
// magic number and format version a restore checks before reading the
// rest: checkDBHead) and is no database: its checksum is wrong.
func boltHeadOnly() []byte {
	page := make([]byte, restoreHeadBytes)
	binary.NativeEndian.PutUint16(page[8:], 0x04) // a meta page
	binary.NativeEndian.PutUint32(page[16:], 0xED0CDAED)
	binary.NativeEndian.PutUint32(page[20:], 2)
	binary.NativeEndian.PutUint32(page[24:], restoreHeadBytes)
	return page
}

// sparseTarEntry is a PAX sparse entry (GNU tar --sparse --format=posix)
// of realsize bytes, all a hole: a few KiB that read back as realsize
// zeros. tar.Writer does not write GNU.sparse records as such, so the
// extended header is a plain entry whose type and checksum are patched.
func sparseTarEntry(t *testing.T, name string, realsize int64) []byte {
	t.Helper()
	var recs string
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", strconv.FormatInt(realsize, 10)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + len(strconv.Itoa(len(rec)))
		if len(strconv.Itoa(n)) != len(strconv.Itoa(len(rec))) {
			n++
		}
		recs += strconv.Itoa(n) + rec
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	sparseMap := make([]byte, 512)
	copy(sparseMap, "1\n0\n0\n") // one data run, empty, at 0
	for _, e := range []struct {
		name string
		data []byte
	}{{"pax", []byte(recs)}, {name, sparseMap}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.data)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	hdr := raw[:512]
	hdr[156] = tar.TypeXHeader
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	// Check that it is what it claims to be.
	tr := tar.NewReader(bytes.NewReader(raw))
	if h, err := tr.Next(); err != nil || h.Name != name || h.Size != realsize {
		t.Fatalf("crafted sparse entry reads as %+v, %v", h, err)
	}
	return raw
}

// TestRestoreRefusesEntriesThatAreNotPlainFiles: an archive entry that is
// sparse (a few KiB that expand to up to 1 GiB of zeros each, so that an
// upload of 32 MiB could write terabytes to the disk before any check) or
// a link is refused by its name, before its content is written anywhere.
func TestRestoreRefusesEntriesThatAreNotPlainFiles(t *testing.T) {
	s, _, _ := loggedService(t)
	link := func(name string, typ byte) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: name, Linkname: "/etc/shadow", Mode: 0o600, Typeflag: typ}); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for name, archive := range map[string][]byte{
		"sparse database":  sparseTarEntry(t, backupDBName, 64<<20),
		"sparse message":   sparseTarEntry(t, backupBodyDir+"4Xb2k9PzQ1", 64<<20),
		"symlink database": link(backupDBName, tar.TypeSymlink),
		"hard link body":   link(backupBodyDir+"4Xb2k9PzQ1", tar.TypeLink),
	} {
		_, err := s.Restore(context.Background(), Root, bytes.NewReader(archive))
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != "file" || !strings.Contains(ue.Msg, "not a plain file") {
			t.Errorf("%s: restore answered %v, want a refusal of the entry as not a plain file", name, err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: the restore left %d files in the temporary directory", name, len(left))
		}
	}
}

// TestRestoreNamesAnEntryHeldTwice: an archive that holds a message twice
// is refused by the entry's name in the archive (mpa/ID), not by the name
// of the restore's scratch file.
func TestRestoreNamesAnEntryHeldTwice(t *testing.T) {
	s, _, _ := loggedService(t)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for range 2 {
		body := []byte("Subject: twice\r\n\r\nx\r\n")
		if err := tw.WriteHeader(&tar.Header{Name: backupBodyDir + "4Xb2k9PzQ1", Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Restore(context.Background(), Root, &archive)
	var ue *store.UserError
	if want := "The backup holds mpa/4Xb2k9PzQ1 twice."; !errors.As(err, &ue) || ue.Msg != want {
		t.Fatalf("restore answered %v, want %q", err, want)
	}
}

// TestRestoreOfADamagedArchiveIsPlain: an upload that is no tar archive
// (random bytes, a damaged header) is refused with a plain sentence;
// Go's tar reader's words ("archive/tar: invalid tar header") go to the
// log only.
func TestRestoreOfADamagedArchiveIsPlain(t *testing.T) {
	s, _, logged := loggedService(t)
	t.Setenv("TMPDIR", t.TempDir())
	garbage := bytes.Repeat([]byte("not a tar archive at all\n"), 100)
	_, err := s.Restore(context.Background(), Root, bytes.NewReader(garbage))
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "file" || !strings.Contains(ue.Msg, "not a postdeck backup archive") || strings.Contains(ue.Msg, "archive/tar") {
		t.Fatalf("restore answered %v", err)
	}
	if !strings.Contains(logged.String(), "archive/tar") {
		t.Errorf("the log lacks the tar reader's words:\n%s", logged)
	}
}
