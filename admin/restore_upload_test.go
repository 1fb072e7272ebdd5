package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"postdeck/store"
)

// zeros is an endless stream of zero bytes (/dev/zero).
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestRestoreUploadStopsAtItsBound: a restore reads its upload up to the
// bound and no further, and says the bound: an endless stream is not
// read until the socket's GiB (nor, streamed, for ever).
func TestRestoreUploadStopsAtItsBound(t *testing.T) {
	u := &uploadLimit{r: zeros{}, limit: 10000}
	n, err := io.Copy(io.Discard, u)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "file" || !strings.Contains(ue.Msg, "larger than the 10000 bytes a restore takes on this node") {
		t.Fatalf("an endless upload read %d bytes and ended with %v", n, err)
	}
	if n > 10001 {
		t.Errorf("%d bytes of the upload were read, bound 10000", n)
	}
}

// TestRestoreRefusesAFileLargerThanTheBoundAtItsHeader: an archive whose
// file is declared larger than this node takes (four times its small
// database, at least 256 MiB, with no MPA here) is refused at the file's
// header, before its content is read.
func TestRestoreRefusesAFileLargerThanTheBoundAtItsHeader(t *testing.T) {
	s, _, _ := loggedService(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: backupBodyDir + "4Xb2k9PzQ1", Mode: 0o600, Size: restoreUploadFloor, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	u := &uploadLimit{r: io.MultiReader(&b, zeros{}), limit: restoreUploadFloor}
	_, err := s.Restore(context.Background(), Root, u)
	var ue *store.UserError
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "larger than the 268435456 bytes a restore takes on this node (four times its database, at least 256 MiB") {
		t.Fatalf("restore: %v", err)
	}
	if u.n > 64<<10 {
		t.Errorf("%d bytes of the upload were read before the refusal", u.n)
	}
}
