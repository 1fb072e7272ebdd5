package webui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/mpa"
	"postdeck/store"
)

// TestBackupWhileEntriesGoHoldsEveryMessage: a backup taken while the
// error repository's messages are being deleted holds, for every entry
// its database lists, the message (a file in the archive or inline in
// the database): an entry deleted after the snapshot but before its file
// was read would otherwise restore as an entry whose message is nowhere.
// The messages are real files of the running MPA, deleted through it.
func TestBackupWhileEntriesGoHoldsEveryMessage(t *testing.T) {
	st := newStack(t)
	const n = 1500
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	body := []byte("Subject: kept\r\n\r\n" + strings.Repeat("x", 4<<10))
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("0000flowing%04d", i)
	}
	// Added from several goroutines: their commits share an fsync.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			errs <- func() error {
				for i := w; i < n; i += 8 {
					id, now := ids[i], time.Now()
					if err := st.db.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: int64(len(body)), Received: now, State: store.SpoolWaiting}, nil, nil); err != nil {
						return err
					}
					if err := st.db.MPASpoolCommit(id, nil, []store.ErrorEntry{{ID: id, Envelope: env, Size: int64(len(body)), Received: now, FailedAt: now, Stage: "pipeline", Reason: "test"}}); err != nil {
						return err
					}
					if _, err := st.mpa.RestoreBody(id, bytes.NewReader(body)); err != nil {
						return err
					}
				}
				return nil
			}()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Delete from the newest down while the backup reads from the oldest up.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		deleted := 0
		defer func() { done <- deleted }()
		for i := n - 1; i >= 0; i-- {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.mpa.ErrorAction(ctx, mpa.ActionDelete, []string{ids[i]}, false); err != nil {
				t.Error(err)
				return
			}
			deleted++
		}
	}()
	archive := takeBackup(t, st)
	close(stop)
	deleted := <-done

	dbRaw, rest := backupParts(t, archive)
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, dbRaw, 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	entries, err := bdb.MPAErrorList()
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, e := range entries {
		if _, ok := rest["mpa/"+e.ID]; ok {
			continue
		}
		if _, inline, err := bdb.MPABody(e.ID); err != nil || !inline {
			missing++
		}
	}
	named := map[string]bool{}
	for _, e := range entries {
		named[e.ID] = true
	}
	for name := range rest {
		if id, ok := strings.CutPrefix(name, "mpa/"); ok && !named[id] {
			t.Errorf("the archive holds %s, which no entry of its database names", name)
		}
	}
	t.Logf("%d deleted meanwhile; the backup holds %d entries", deleted, len(entries))
	if missing > 0 {
		t.Errorf("the backup holds %d error entries whose message is neither in the archive nor inline", missing)
	}
	// The archive's database, with the entries taken out, passes the
	// restore's checks.
	bdb.Close()
	if r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archive), nil); r.Status != 200 {
		t.Errorf("restore of the backup: %d %s", r.Status, r.Body)
	}
}
