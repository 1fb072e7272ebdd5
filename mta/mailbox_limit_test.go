package mta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// localInstance starts a Postfix whose main.cf is the instance's own
// lines, which turn local(8) delivery on into spool (local mailboxes, for
// root as default_privs), then mainCF, as a system instance would run it.
// No parameter is set twice: Postfix warns about each at every daemon
// start, and postlogd, which logs its own warnings to itself, once hung
// on them.
func localInstance(t *testing.T, spool, mainCF string) (smtpAddr, maillog string) {
	t.Helper()
	base := postfixtest.Dir(t)
	etc, queue := filepath.Join(base, "etc"), filepath.Join(base, "spool")
	for _, d := range []string{etc, queue} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	smtpAddr = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	maillog = filepath.Join(base, "maillog")
	main := "queue_directory = " + queue + "\n" +
		"data_directory = " + filepath.Join(base, "data") + "\n" +
		"syslog_name = postfix-mailbox-test\n" +
		"maillog_file = " + maillog + "\nmaillog_file_prefixes = " + base + "\n" +
		"inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n" +
		"mydomain = gw.example.test\nmyorigin = $myhostname\n" +
		"mydestination = localhost\nlocal_transport = local\n" +
		"alias_maps =\nalias_database =\n" +
		"mail_spool_directory = " + spool + "\nhome_mailbox =\nmailbox_command =\n" +
		mainCF
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "master.cf"), []byte(smtpAddr+" inet n - n - - smtpd\n"+postfix.DebianServices), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * time.Second) // the 2-second stall
	if err := os.Chtimes(filepath.Join(etc, "main.cf"), old, old); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "start"} {
		if out, err := postfixtest.Command(t, "postfix", "-c", etc, cmd); err != nil {
			t.Fatalf("postfix %s: %v: %s\n%s", cmd, err, out, readFile(maillog))
		}
		if cmd == "start" {
			t.Cleanup(func() { postfixtest.StopByPidFile(t, queue) })
		}
	}
	if err := postfixtest.WaitPort(smtpAddr, 5*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, readFile(maillog))
	}
	return smtpAddr, maillog
}

// virtualDocument is a main config document that delivers
// virt.example.test with virtual(8) into one mailbox file, vbase/box, as
// nobody.
func virtualDocument(vbase string) string {
	return "compatibility_level = 3.6\nsmtputf8_enable = no\n" +
		"virtual_mailbox_domains = virt.example.test\n" +
		"virtual_mailbox_base = " + vbase + "\n" +
		"virtual_mailbox_maps = static:box\n" +
		"virtual_uid_maps = static:65534\nvirtual_gid_maps = static:65534\n"
}

// waitMailbox waits until path holds a message with marker, or fails with
// the agent's words when the maillog says a delivery agent refused to run.
func waitMailbox(t *testing.T, maillog, path, marker string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if strings.Contains(readFile(path), marker) {
			return
		}
		log := readFile(maillog)
		if i := strings.Index(log, "fatal: configuration error"); i >= 0 {
			line := log[i:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Fatalf("%s was not delivered: %s", path, line)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not delivered within 30 s\n%s", path, log)
		}
	}
}

// TestDefaultSizeLimitDeliversLocally: with the default Message Size
// Limit (52428800, above Postfix's default mailbox_size_limit and
// virtual_mailbox_limit of 51200000) and a main config that sets neither,
// the rendered main.cf lets local(8) and virtual(8) run: a message to
// root@localhost and one to a virtual mailbox are delivered. Before,
// both agents exited with "fatal: configuration error:
// mailbox_size_limit is smaller than message_size_limit" and the mail
// stayed deferred (root, postmaster and double bounces on a fresh
// install).
func TestDefaultSizeLimitDeliversLocally(t *testing.T) {
	postfixtest.Require(t)
	dir := postfixtest.Dir(t)
	spool, vbase := filepath.Join(dir, "mail"), filepath.Join(dir, "vmail")
	st := store.State{Settings: validSettings(), MainConfig: virtualDocument(vbase)}
	if st.Settings.MessageSizeLimit <= postfixMailboxLimit {
		t.Fatalf("default Message Size Limit %d is not above Postfix's mailbox limit", st.Settings.MessageSizeLimit)
	}
	r, err := Render(Instance{ConfigDir: "/nonexistent", SMTPListen: "127.0.0.1:2525"}, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{spool, vbase} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	addr, maillog := localInstance(t, spool, string(r["main.cf"].Data))
	sendPlain(t, addr, "a@example.org", "root@localhost", "Subject: local\r\n\r\nlocal-marker\r\n")
	sendPlain(t, addr, "a@example.org", "someone@virt.example.test", "Subject: virtual\r\n\r\nvirtual-marker\r\n")
	waitMailbox(t, maillog, filepath.Join(spool, "root"), "local-marker")
	waitMailbox(t, maillog, filepath.Join(vbase, "box"), "virtual-marker")
}

// TestMailboxLimitLinesOnlyWhenNeeded: main.cf gets a mailbox limit line
// only where it is needed: not when the Message Size Limit is within
// Postfix's default, not for a limit the document sets itself, not for
// local(8) when local delivery is off (a private instance, a
// local_transport naming another transport), not for virtual(8) when no
// virtual mailbox domain is configured or virtual_transport names another
// transport (dovecot, lmtp). An import of a configuration that
// cannot run the agent keeps its postconf -n.
func TestMailboxLimitLinesOnlyWhenNeeded(t *testing.T) {
	render := func(private bool, limit int64, doc string) string {
		t.Helper()
		st := store.State{Settings: validSettings(), MainConfig: doc}
		st.Settings.MessageSizeLimit = limit
		in := Instance{ConfigDir: "/nonexistent", SMTPListen: "127.0.0.1:2525", Private: private, BaseDir: "/nonexistent"}
		r, err := Render(in, st)
		if err != nil {
			t.Fatal(err)
		}
		return string(r["main.cf"].Data)
	}
	const over = postfixMailboxLimit + 1
	virtual := "virtual_mailbox_domains = v.example.test\n"
	for _, c := range []struct {
		name        string
		private     bool
		limit       int64
		doc         string
		local, virt bool
	}{
		{"at Postfix's default", false, postfixMailboxLimit, virtual, false, false},
		{"above it", false, over, "biff = no\n", true, false},
		{"virtual domains", false, over, virtual, true, true},
		{"virtual maps", false, over, "virtual_mailbox_maps = hash:/x\n", true, true},
		{"set in the document", false, over, virtual + "mailbox_size_limit = 0\nvirtual_mailbox_limit = 0\n", false, false},
		{"local delivery off", false, over, "local_transport = error:off\n", false, false},
		{"local_transport local", false, over, "local_transport = local:$myhostname\n", true, false},
		{"private instance", true, over, virtual, false, true},
		{"virtual_transport lmtp", false, over, virtual + "virtual_transport = lmtp:unix:private/dovecot-lmtp\n", true, false},
		{"virtual_transport virtual", false, over, virtual + "virtual_transport = virtual\n", true, true},
	} {
		got := render(c.private, c.limit, c.doc)
		want := fmt.Sprintf("mailbox_size_limit = %d\n", c.limit)
		if strings.Contains(got, "\n"+want) != c.local {
			t.Errorf("%s: mailbox_size_limit line written = %v, want %v:\n%s", c.name, !c.local, c.local, got)
		}
		want = fmt.Sprintf("virtual_mailbox_limit = %d\n", c.limit)
		if strings.Contains(got, want) != c.virt {
			t.Errorf("%s: virtual_mailbox_limit line written = %v, want %v:\n%s", c.name, !c.virt, c.virt, got)
		}
	}
}

// TestMailboxLimitBelowSizeLimitIsRefused: a main config line that puts
// mailbox_size_limit or virtual_mailbox_limit below the Message Size
// Limit, and a Message Size Limit raised past one the main config sets,
// are refused with a sentence naming the line or the field, and Postfix's
// files stay byte-identical. 0 (no limit) and a limit at least the
// Message Size Limit are taken.
func TestMailboxLimitBelowSizeLimitIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	before := env.liveFiles(t)
	doc := DefaultMainConfig + "mailbox_size_limit = 51200000\n"
	line := strings.Count(DefaultMainConfig, "\n") + 1
	_, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != FieldMainConfig || ue.Line != line || !strings.Contains(ue.Msg, "mailbox_size_limit = 51200000 is smaller than the Message Size Limit") {
		t.Fatalf("err = %v (%+v)", err, ue)
	}
	assertSameFiles(t, before, env.liveFiles(t))

	doc = DefaultMainConfig + "mailbox_size_limit = 0\nvirtual_mailbox_limit = 104857600\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := env.postconf(t, "mailbox_size_limit"); got != "0" {
		t.Fatalf("mailbox_size_limit = %q", got)
	}
	if got := env.postconf(t, "virtual_mailbox_limit"); got != "104857600" {
		t.Fatalf("virtual_mailbox_limit = %q", got)
	}
	before = env.liveFiles(t)
	s := validSettings()
	s.MessageSizeLimit = 200000000
	_, err = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldMessageSizeLimit || !strings.Contains(ue.Msg, "virtual_mailbox_limit = 104857600") {
		t.Fatalf("err = %v (%+v)", err, ue)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	s.MessageSizeLimit = 104857600
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := env.postconf(t, "message_size_limit"); got != "104857600" {
		t.Fatalf("message_size_limit = %q", got)
	}
}
