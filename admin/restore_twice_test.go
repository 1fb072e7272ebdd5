package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"postdeck/store"
)

// TestRestoreStartedTwiceRefusesTheSecond: two administrators restore at
// once. The second is refused at once with a conflict that says why,
// instead of waiting for the first and then replacing what the first
// administrator was told is restored; the first goes on undisturbed.
func TestRestoreStartedTwiceRefusesTheSecond(t *testing.T) {
	checking, release := make(chan struct{}), make(chan struct{})
	stopped := store.Invalid("file", "stopped by the test")
	s, _, _ := loggedService(t, func(c *Config) {
		c.VerifyDB = func(ctx context.Context, path string) error {
			checking <- struct{}{}
			<-release
			return stopped
		}
	})
	archive := func() *bytes.Reader {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		db := boltHeadOnly()
		if err := tw.WriteHeader(&tar.Header{Name: backupDBName, Mode: 0o600, Size: int64(len(db)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(db); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(b.Bytes())
	}

	first := make(chan error, 1)
	go func() {
		_, err := s.Restore(context.Background(), Root, archive())
		first <- err
	}()
	<-checking // the first restore runs

	second := make(chan error, 1)
	go func() {
		_, err := s.Restore(context.Background(), Root, archive())
		second <- err
	}()
	select {
	case err := <-second:
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrConflict) {
			t.Errorf("second restore: %v, want a conflict", err)
		} else if ue.Msg != "Another restore is running; wait until it has finished (the audit log records it), then restore this backup again if it should still replace that one." {
			t.Errorf("second restore answered %q", ue.Msg)
		}
	case <-checking:
		t.Error("the second restore ran beside the first")
		close(release)
		<-second
	case <-time.After(5 * time.Second):
		t.Error("the second restore waits for the first to end")
		close(release)
		<-checking // it runs once the first let go
		<-second
	}
	select {
	case <-release:
	default:
		close(release)
	}
	if err := <-first; !errors.Is(err, stopped) {
		t.Errorf("first restore: %v, want the checker's refusal", err)
	}
}
