package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// pmgHost lays out the real Proxmox Mail Gateway configuration (which
// sets message_size_limit = 10485760 and mailbox_size_limit = 51200000)
// under a new root, its message_size_limit line replaced by sizeLine
// when that is not empty, and returns the configuration directory and
// the main.cf line numbers of message_size_limit and mailbox_size_limit.
func pmgHost(t *testing.T, sizeLine string) (dir string, sizeAt, mailboxAt int) {
	t.Helper()
	needCorpusProject(t, "pmg")
	dir = corpusHost(t, "pmg", postfixtest.Dir(t))
	path := filepath.Join(dir, "main.cf")
	lines := strings.Split(readFile(path), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "message_size_limit "):
			sizeAt = i + 1
			if sizeLine != "" {
				lines[i] = sizeLine
			}
		case strings.HasPrefix(l, "mailbox_size_limit "):
			mailboxAt = i + 1
		}
	}
	if sizeAt == 0 || mailboxAt == 0 {
		t.Fatalf("pmg's main.cf no longer sets message_size_limit and mailbox_size_limit")
	}
	writeBackdated(t, path, strings.Join(lines, "\n"))
	return dir, sizeAt, mailboxAt
}

// TestImportPMGTakesItsOwnSizeLimit: the import of the real pmg main.cf,
// consistent by itself (message_size_limit = 10485760 below its
// mailbox_size_limit = 51200000), takes its message_size_limit over as
// the Message Size Limit and keeps the mailbox_size_limit line, so the
// imported state passes the check every apply makes.
func TestImportPMGTakesItsOwnSizeLimit(t *testing.T) {
	postfixtest.Require(t)
	dir, _, _ := pmgHost(t, "")
	res, err := ImportWith(context.Background(), dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if got := res.State.Settings.MessageSizeLimit; got != 10485760 {
		t.Errorf("Message Size Limit = %d, want pmg's 10485760", got)
	}
	params, err := ParseMainConfig(res.State.MainConfig)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := documentValue(params, "mailbox_size_limit"); v != "51200000" {
		t.Errorf("mailbox_size_limit in the imported document = %q, want 51200000", v)
	}
	if err := checkMailboxLimits(res.State.Settings, params, FieldMainConfig); err != nil {
		t.Errorf("the imported state is refused: %v", err)
	}
}

// TestImportRefusesMailboxLimitBelowSizeLimit: a main.cf whose
// mailbox_size_limit is below its own message_size_limit (pmg's with
// message_size_limit raised to 100 MB, or set to 0, no limit, which
// postdeck holds as 4 GiB and Postfix's local(8) refuses with a limited
// mailbox too) is refused by the import, naming both lines and what to
// change, instead of being imported into a state every apply refuses.
func TestImportRefusesMailboxLimitBelowSizeLimit(t *testing.T) {
	postfixtest.Require(t)
	for _, c := range []struct{ line, size, limit string }{
		{"message_size_limit = 104857600", "104857600", "104857600"},
		{"message_size_limit = 0", "0", "4294967296"},
	} {
		dir, sizeAt, mailboxAt := pmgHost(t, c.line)
		_, err := ImportWith(context.Background(), dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
		var ie *ImportError
		if !errors.As(err, &ie) || !errors.Is(err, ErrImport) {
			t.Fatalf("%s: import answered %v, want a refusal", c.line, err)
		}
		want := "main.cf line " + strconv.Itoa(mailboxAt) + ": mailbox_size_limit = 51200000 is smaller than message_size_limit = " + c.size +
			" (main.cf line " + strconv.Itoa(sizeAt) + "), which becomes the Message Size Limit of " + c.limit + " bytes, and Postfix's local delivery (local) refuses to run then"
		if ie.Problem != want {
			t.Errorf("%s: problem %q\nwant %q", c.line, ie.Problem, want)
		}
		if fix := "in main.cf, set mailbox_size_limit to at least " + c.limit + " or to 0 (no limit), or lower message_size_limit to at most 51200000"; ie.Fix != fix {
			t.Errorf("%s: fix %q, want %q", c.line, ie.Fix, fix)
		}
	}
}

// inconsistentState is the stored state with a main config line that
// puts mailbox_size_limit below its Message Size Limit (52428800), and
// the line's number.
func inconsistentState(t *testing.T, db *store.DB) (store.State, int) {
	t.Helper()
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.MessageSizeLimit <= 51200000 {
		t.Fatalf("Message Size Limit %d is not above 51200000", st.Settings.MessageSizeLimit)
	}
	st.MainConfig += "mailbox_size_limit = 51200000\n"
	return st, strings.Count(st.MainConfig, "\n")
}

// TestRevisionMailboxLimitBelowSizeLimitIsRefused: a cluster revision
// (made by a node of an older version, which did not check it) whose
// main config sets mailbox_size_limit below the Message Size Limit is
// refused by the node's check and by its apply with the main config
// save's sentence naming the line; Postfix's files stay byte-identical
// and the node's store keeps its last good configuration.
func TestRevisionMailboxLimitBelowSizeLimitIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	good, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	before := env.liveFiles(t)
	st, line := inconsistentState(t, env.db)
	want := "Line " + strconv.Itoa(line) + ": mailbox_size_limit = 51200000 is smaller than the Message Size Limit of the MTA Settings page (52428800 bytes)"
	for name, err := range map[string]error{
		"check": env.m.Check(ctx, st),
		"apply": func() error {
			_, err := env.m.ApplyRevision(ctx, 7, "cluster revision 7", st, ApplyOptions{})
			return err
		}(),
	} {
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldMainConfig || ue.Line != line || !strings.HasPrefix(ue.Msg, want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if now, err := env.db.LoadState(); err != nil || now.MainConfig != good.MainConfig {
		t.Errorf("the stored main config changed (%v):\n%s", err, now.MainConfig)
	}
}

// TestStartWarnsOfStoredMailboxLimit: a state an earlier version stored
// with mailbox_size_limit below the Message Size Limit is applied at
// start (refused, the daemon would leave every delivery down, not only
// local delivery), and the start warns with the sentence that says which
// line to fix.
func TestStartWarnsOfStoredMailboxLimit(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	st.MainConfig += "mailbox_size_limit = 51200000\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	res, err := env.m.Start(context.Background())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	line := strings.Count(st.MainConfig, "\n")
	want := "Line " + strconv.Itoa(line) + ": mailbox_size_limit = 51200000 is smaller than the Message Size Limit"
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("start warnings %q lack %q", res.Warnings, want)
	}
	if _, err := os.Stat(filepath.Join(env.inst.ConfigDir, "main.cf")); err != nil {
		t.Errorf("start applied nothing: %v", err)
	}
}

// TestStoredMailboxLimitKeptByOtherChanges: with a stored state that has
// mailbox_size_limit below the Message Size Limit already (an earlier
// version's), another change is applied and warns with the sentence
// naming the line: refused, every change would be until that line is
// fixed, a relay host on a bad day for a problem of local delivery.
func TestStoredMailboxLimitKeptByOtherChanges(t *testing.T) {
	env := newUnstartedEnv(t)
	ctx := context.Background()
	st := DefaultState(time.Now())
	st.MainConfig += "mailbox_size_limit = 51200000\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	line := strings.Count(st.MainConfig, "\n")
	st.MainConfig += "# a note of another administrator\n"
	res, err := env.m.ApplyRevision(ctx, 8, "cluster revision 8", st, ApplyOptions{})
	if err != nil {
		t.Fatalf("a change keeping the stored mailbox limit: %v", err)
	}
	want := "Line " + strconv.Itoa(line) + ": mailbox_size_limit = 51200000 is smaller than the Message Size Limit"
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("warnings %q lack %q", res.Warnings, want)
	}
	raw, err := os.ReadFile(filepath.Join(env.inst.ConfigDir, "main.cf"))
	if err != nil || !strings.Contains(string(raw), "# a note of another administrator") {
		t.Errorf("the change was not applied (%v)", err)
	}
}
