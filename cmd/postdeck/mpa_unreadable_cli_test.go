package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestCLIMPASaysWhichRecordsAreUnreadable: a spool or error-repository
// record that does not decode (another version's, an old backup's,
// damaged) is left out of `mpa queue` and `mpa errors`, which said
// nothing of it: `mpa errors` printed "1 of 8 messages" with no word of
// the other seven, `mpa queue` an empty table. Both now say on stderr,
// as the CLI says warnings, how many could not be read, the first five
// ids and how many more, that they are kept untouched and that the
// daemon's log says why (errors: that mpa error delete deletes one);
// stdout stays the table it was, and nothing is said without them.
func TestCLIMPASaysWhichRecordsAreUnreadable(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	badSpool := []string{"00000000000002badd0000"}
	var badErrors []string
	for i := range 7 {
		badErrors = append(badErrors, fmt.Sprintf("00000000000003badd%04d", i))
	}
	putUnreadableRecords(t, filepath.Join(base, "data"), badSpool, badErrors)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))

	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("postdeck %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
		}
		return o.String(), e.String()
	}

	out, errOut := run("mpa", "errors")
	want := "warning: 7 messages on this page could not be read and are not listed: " + strings.Join(badErrors[:5], ", ") +
		" and 2 more. They are kept untouched with their message files; the daemon's log says why. postdeck mpa error delete ID deletes one.\n"
	if errOut != want {
		t.Errorf("mpa errors: stderr %q, want %q", errOut, want)
	}
	if !strings.Contains(out, "00000000000000aaaa0002") || !strings.HasSuffix(out, "\n1 of 8 messages\n") || strings.Contains(out, "badd") {
		t.Errorf("mpa errors: stdout, want the readable row and 1 of 8 messages, no unreadable id:\n%s", out)
	}

	out, errOut = run("mpa", "queue")
	want = "warning: 1 message in the MPA queue could not be read and is not listed: " + badSpool[0] +
		". It is kept untouched with its message file and is not delivered until it is repaired or removed; the daemon's log says why.\n"
	if errOut != want {
		t.Errorf("mpa queue: stderr %q, want %q", errOut, want)
	}
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ID ") {
		t.Errorf("mpa queue: stdout, want the header alone:\n%s", out)
	}

	// One left: it is named in the command that deletes it.
	run("mpa", "error", "delete", badErrors[1], badErrors[2], badErrors[3], badErrors[4], badErrors[5], badErrors[6])
	if _, errOut = run("mpa", "errors"); !strings.HasSuffix(errOut, "It is kept untouched with its message file; the daemon's log says why. postdeck mpa error delete "+badErrors[0]+" deletes it.\n") {
		t.Errorf("mpa errors with one unreadable record: stderr %q", errOut)
	}
	// None: nothing on stderr.
	run("mpa", "error", "delete", badErrors[0])
	if _, errOut = run("mpa", "errors"); errOut != "" {
		t.Errorf("mpa errors without unreadable records: stderr %q", errOut)
	}
}

// putUnreadableRecords makes the database of data (before the daemon
// opens it) with one readable error-repository entry,
// 00000000000000aaaa0002, and raw records that do not decode, as nothing
// in postdeck would write them: spool records under spoolIDs and
// error-repository records under errorIDs.
func putUnreadableRecords(t *testing.T, data string, spoolIDs, errorIDs []string) {
	t.Helper()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}}
	now := time.Now().UTC()
	if err := db.MPASpoolCommit("00000000000000aaaa0002", nil, []store.ErrorEntry{{ID: "00000000000000aaaa0002", Envelope: env,
		Received: now, FailedAt: now, Stage: store.StagePipeline, Reason: "a bad rule"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Bolt().Update(func(tx *bolt.Tx) error {
		for _, id := range spoolIDs {
			if err := tx.Bucket([]byte("mpa_spool")).Put([]byte(id), []byte(`{"id":"x","attempts":"three"}`)); err != nil {
				return err
			}
		}
		for _, id := range errorIDs {
			if err := tx.Bucket([]byte("mpa_errors")).Put([]byte(id), []byte(`{"id":"x","envelope":{"sender":"a@exa`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
