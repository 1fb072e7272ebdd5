package mpa

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/store"
)

// TestErrorCountersFollowEveryChange: the quota's counters (the MPA's
// and the store's usage record) equal a count of every entry after each
// kind of change of the error repository: a pipeline failure, a
// recipient the next hop refuses (an entry split off a delivered
// message), a temporary failure that expired, a requeue that fails
// again, a delete, a restore's merge and its refusal, delete all.
func TestErrorCountersFollowEveryChange(t *testing.T) {
	s, c, next := brokenServer(t, Config{RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		MaxQueueLifetime: time.Second})
	next.SetReject(func(rcpt string) *gosmtp.SMTPError {
		switch {
		case strings.HasSuffix(rcpt, "@perm.example"):
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasSuffix(rcpt, "@temp.example"):
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	ctx := context.Background()
	db := s.db
	exact := func(what string, entries int) {
		t.Helper()
		waitFor(t, 20*time.Second, what+": the spool empty and the counters settled", func() bool {
			cn, err := s.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, b, err := db.MPAErrorRecount()
			if err != nil {
				t.Fatal(err)
			}
			return cn.Spool == 0 && n == entries && s.errEntries.Load() == int64(n) && s.errBytes.Load() == b
		})
		n, b, err := db.MPAErrorRecount()
		if err != nil {
			t.Fatal(err)
		}
		un, ub, err := db.MPAErrorUsage()
		if err != nil || un != n || ub != b {
			t.Fatalf("%s: usage record %d entries %d bytes, a count of every entry %d, %d (%v)", what, un, ub, n, b, err)
		}
		if cn, _ := s.Counts(ctx); cn.Errors != n || cn.ErrorBytes != b {
			t.Fatalf("%s: counts %+v, a count of every entry %d, %d", what, cn, n, b)
		}
	}

	c.sendFailing("fails in the pipeline")
	c.sendFailing("fails again")
	exact("pipeline failures", 2)

	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<ok@example.org>", 250, "")
	c.expect("RCPT TO:<nobody@perm.example>", 250, "")
	c.data(msgWithSubject("half refused"), 250, "2.0.0")
	exact("a refused recipient split off", 3)

	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<slow@temp.example>", 250, "")
	c.data(msgWithSubject("expires"), 250, "2.0.0")
	exact("an expired message", 4)

	items, err := s.ListErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pipeline []string
	for _, it := range items {
		if it.Stage == store.StagePipeline {
			pipeline = append(pipeline, it.ID)
		}
	}
	if n, err := s.ErrorAction(ctx, ActionRequeue, pipeline[:1], false); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	exact("a requeue that failed again", 4)
	if n, err := s.ErrorAction(ctx, ActionDelete, pipeline[1:], false); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	exact("a delete", 3)

	backup := backupWithErrors(t, 3, 5000)
	added, err := db.RestoreFrom(backup)
	if err != nil || len(added) != 3 {
		t.Fatalf("restore: %v %v", added, err)
	}
	if err := s.Restored(ctx); err != nil {
		t.Fatal(err)
	}
	exact("a restore", 6)
	if err := s.ForgetRestored(added[:2]); err != nil {
		t.Fatal(err)
	}
	exact("a refused restore taken out", 4)

	if _, err := s.ErrorAction(ctx, ActionDelete, nil, true); err != nil {
		t.Fatal(err)
	}
	exact("delete all", 0)
}

// backupWithErrors writes a database file (a backup's) whose error
// repository holds n entries of size bytes each, with inline bodies.
func backupWithErrors(t *testing.T, n int, size int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	bdb, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	now := time.Now()
	body := []byte("Subject: restored\r\n\r\n" + strings.Repeat("r", size))
	for i := range n {
		id := backupID(i)
		if err := bdb.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: int64(len(body)), Received: now, State: store.SpoolWaiting}, body, nil); err != nil {
			t.Fatal(err)
		}
		e := store.ErrorEntry{ID: id, Envelope: env, Size: int64(len(body)), Received: now, FailedAt: now, Stage: store.StagePipeline, Reason: "backup"}
		if err := bdb.MPASpoolCommit(id, nil, []store.ErrorEntry{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func backupID(i int) string { return "0000restored" + string(rune('a'+i)) }

// TestRestoreHoldsTheErrorQuota: a restore's entries count against the
// quota from its check to its end. Its merge commits in chunks while the
// MPA takes mail; the counters followed only its end, so the MPA took
// messages into a repository the merge was filling (and a second check
// compared with a use that had moved). Held, the MPA answers 452 as the
// restored repository will need; a restore that would take the
// repository past the quota holds nothing; once it ended the counters
// are the repository's.
func TestRestoreHoldsTheErrorQuota(t *testing.T) {
	s, c, _ := brokenServer(t, Config{ErrorQuotaEntries: 3})
	ctx := context.Background()
	c.sendFailing("live")
	waitFor(t, 10*time.Second, "the live error entry", func() bool {
		return s.errEntries.Load() == 1
	})
	if h, use, ok := s.HoldForRestore(3, 100); ok || h != nil || use.Entries != 1 || use.QuotaEntries != 3 {
		t.Fatalf("a restore past the quota: held %v, use %+v", ok, use)
	}
	if s.quotaReached() {
		t.Fatal("a refused hold closed the door")
	}

	h, _, ok := s.HoldForRestore(2, 2*5021)
	if !ok {
		t.Fatal("a restore up to the quota was refused")
	}
	defer h.Release()
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<ok@example.org>", 452, "4.3.1")
	c.expect("RSET", 250, "")
	// A recount before the merge (an administrator's action meanwhile)
	// keeps the hold.
	if err := s.recountErrors(); err != nil {
		t.Fatal(err)
	}
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<ok@example.org>", 452, "4.3.1")
	c.expect("RSET", 250, "")
	backup := backupWithErrors(t, 2, 5000)
	added, err := s.db.RestoreFrom(backup)
	if err != nil || len(added) != 2 {
		t.Fatalf("restore: %v %v", added, err)
	}
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<ok@example.org>", 452, "4.3.1")
	c.expect("RSET", 250, "")
	if cn, _ := s.Counts(ctx); !cn.QuotaReached {
		t.Fatalf("counts during the restore: %+v", cn)
	}

	// The release alone brings the counters to the repository's (the
	// merge was not counted by any recount).
	h.Release()
	h.Release() // once
	n, b, err := s.db.MPAErrorRecount()
	if err != nil || n != 3 || s.errEntries.Load() != 3 || s.errBytes.Load() != b {
		t.Fatalf("after the restore: counters %d, %d; a count %d, %d (%v)", s.errEntries.Load(), s.errBytes.Load(), n, b, err)
	}
	if err := s.ForgetRestored(added[:1]); err != nil {
		t.Fatal(err)
	}
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<ok@example.org>", 250, "")
	c.expect("RSET", 250, "")
}
