package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCLIQueueBadDay is an administrator at a terminal with a partner's
// relay down. `postdeck status` printed Postfix's state and the last
// apply only: not how much mail waited, for which domains, the MPA's
// backlog, or any banner the console showed (Postfix stopped, a disk
// nearly full, ...). And the queue actions took ids only, so holding
// or deleting one domain's 80,000 messages meant listing them first.
// Now status prints the queue, the waiting domains, the MPA and the
// console's banners (GET /api/v1/status has them as `warnings`), and
// an action without ids acts on what its filter selects (--all: the
// whole queue), each matched when the action runs. A filter flag that
// only pages queue list, ids together with a filter, and a filter on
// show, eml or flush are refused as typed wrong (exit 2) before
// anything is sent. The audit log and Postfix's start and stop, the
// console's, are at the terminal too (postdeck audit, postdeck
// postfix).
func TestCLIQueueBadDay(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	smtpPort := postfixtest.FreePort(t)
	d := startDaemon(t, bin, base, smtpPort)
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	type item struct {
		QueueID   string `json:"queue_id"`
		QueueName string `json:"queue_name"`
		Recipient []struct {
			Address string `json:"address"`
		} `json:"recipients"`
	}
	// list is every message of the sender's, by queue id.
	list := func() map[string]item {
		t.Helper()
		var page struct {
			Items []item `json:"items"`
		}
		out := ok("", "queue", "list", "--json", "--sender", "flags@example.org", "--limit", "100")
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("queue list --json: %v\n%s", err, out)
		}
		m := map[string]item{}
		for _, it := range page.Items {
			m[it.QueueID] = it
		}
		return m
	}
	inQueue := func(l map[string]item, name string) (n int) {
		for _, it := range l {
			if it.QueueName == name {
				n++
			}
		}
		return n
	}

	// Both partners' relays are down: a closed port each.
	ok("dest.test smtp:[127.0.0.1]:"+strconv.Itoa(postfixtest.FreePort(t))+"\nother.test smtp:[127.0.0.1]:"+strconv.Itoa(postfixtest.FreePort(t))+"\n",
		"maps", "set", "--force", "transport-maps", "hash", "-")
	for i := range 3 {
		ok("body\n", "sendmail", "--from", "flags@example.org", "--to", "r"+strconv.Itoa(i)+"@dest.test", "--subject", "to dest")
	}
	ok("body\n", "sendmail", "--from", "flags@example.org", "--to", "r@other.test", "--subject", "to other")
	deadline := time.Now().Add(60 * time.Second)
	var l map[string]item
	for l = list(); inQueue(l, "deferred") != 4; l = list() {
		if time.Now().After(deadline) {
			t.Fatalf("not all deferred: %+v", l)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var anID string
	for id := range l {
		anID = id
	}

	// The status a terminal gets: the queue, its domains, the MPA, and
	// the console's banners (here the SPF sources, which fail against
	// the test's closed resolver).
	status := ok("", "status")
	for _, want := range []string{"queue:       4 messages, ", ": deferred 4\n", "waiting:     dest.test 3 recipients, the oldest under 5 min\n",
		"waiting:     other.test 1 recipient, the oldest under 5 min\n", "mpa:         0 in its queue (0 being processed); error repository 0 of 10000 entries, 0 bytes of 1.0 GiB; "} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if !strings.Contains(status, "\nwarning:     The SPF source of map gmail.com is failing: ") || strings.Contains(status, "error:") {
		t.Errorf("status with the SPF sources failing, nothing else:\n%s", status)
	}

	// Typed wrong: exit 2, a sentence, nothing done.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"queue", "delete", "--queue", "hold", anID}, "not both"},
		{[]string{"queue", "delete", anID, "--sender", "someone-else@example.org"}, "not both"},
		{[]string{"queue", "bounce", "--min-age", "1h", anID}, "not both"},
		{[]string{"queue", "delete", "--all", anID}, "not both"},
		{[]string{"queue", "delete", "--recipient", "@dest.test", "--limit", "1"}, "--limit chooses a page of queue list; queue delete acts on every message its filter selects"},
		{[]string{"queue", "hold", "--sort", "size", "--all"}, "--sort chooses a page of queue list"},
		{[]string{"queue", "show", "--sender", "x@example.org", anID}, "--sender is a filter of queue list and the queue actions; queue show takes queue ids only"},
		{[]string{"queue", "flush", "--recipient", "@dest.test"}, "queue flush takes queue ids only"},
		{[]string{"queue", "list", "--all"}, "--all is for the queue actions"},
		{[]string{"queue", "delete"}, "missing argument: postdeck queue delete ID... (or - for ids on standard input), or a filter (--queue, --q, --sender, --recipient, --min-age), or --all; nothing was done"},
	} {
		out, err := d.cliIn(t, bin, "", tc.args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("postdeck %s: %v, want exit 2 and %q:\n%s", strings.Join(tc.args, " "), err, tc.want, out)
		}
	}
	// A filter of blanks (a script's unset variable) selects everything:
	// refused unless --all says so, in the CLI's words.
	if out, err := d.cliIn(t, bin, "", "queue", "delete", "--recipient", " ", "--sender", ""); err == nil || !strings.Contains(out, "this filter is blank and selects every message in the queue; add --all to delete all of them (nothing was done)") {
		t.Errorf("queue delete --recipient ' ': %v\n%s", err, out)
	}
	// So does a minimum age of nothing.
	for _, age := range []string{"0", "0s", "0h0m"} {
		if out, err := d.cliIn(t, bin, "", "queue", "hold", "--min-age", age); exitCode(err) != 2 || !strings.Contains(out, "this filter is blank and selects every message in the queue; add --all to hold all of them (nothing was done)") {
			t.Errorf("queue hold --min-age %s: %v\n%s", age, err, out)
		}
	}
	if l := list(); inQueue(l, "deferred") != 4 {
		t.Fatalf("after the refused commands: %+v", l)
	}

	// One domain's mail on hold; the other's stays deferred.
	if out := ok("", "queue", "hold", "--recipient", "@dest.test"); out != "3 messages matched\nhold: 3 affected, 0 gone\n" {
		t.Errorf("queue hold --recipient @dest.test:\n%s", out)
	}
	l = list()
	for _, it := range l {
		dest := strings.HasSuffix(it.Recipient[0].Address, "@dest.test")
		if dest != (it.QueueName == "hold") {
			t.Errorf("after the hold: %s (to %s) in %s", it.QueueID, it.Recipient[0].Address, it.QueueName)
		}
	}
	if status := ok("", "status"); !strings.Contains(status, ": deferred 1, hold 3\n") || !strings.Contains(status, "waiting:     other.test 1 recipient,") || strings.Contains(status, "waiting:     dest.test") {
		t.Errorf("status after the hold (the shape leaves hold out):\n%s", status)
	}
	// A filter with --all; then --all alone takes the rest.
	if out := ok("", "queue", "delete", "--queue", "hold", "--all"); out != "3 messages matched\ndelete: 3 affected, 0 gone\n" {
		t.Errorf("queue delete --queue hold --all:\n%s", out)
	}
	if l := list(); len(l) != 1 || inQueue(l, "deferred") != 1 {
		t.Errorf("after deleting the held ones: %+v", l)
	}
	if status := ok("", "status"); !strings.Contains(status, "queue:       1 message, ") {
		t.Errorf("status of a queue of one:\n%s", status)
	}
	if out := ok("", "queue", "delete", "--all"); out != "1 message matched\ndelete: 1 affected, 0 gone\n" {
		t.Errorf("queue delete --all:\n%s", out)
	}
	if status := ok("", "status"); !strings.Contains(status, "queue:       empty\n") {
		t.Errorf("status of an empty queue:\n%s", status)
	}

	// The audit log names each action's filter, newest first.
	audit := ok("", "audit", "--what", "queue")
	rows := strings.Split(audit, "\n")
	if len(rows) != 6 || !strings.HasPrefix(rows[0], "TIME ") || !strings.Contains(rows[1], "queue delete") || !strings.Contains(rows[3], "queue hold") || !strings.Contains(rows[3], "@dest.test") || rows[4] != "3 entries, newest first (--limit, 100 by default; --json has the diffs)" {
		t.Errorf("audit --what queue:\n%s", audit)
	}
	if out, err := d.cliIn(t, bin, "", "audit", "--since", "yesterday"); err == nil || !strings.Contains(out, "must be a date") {
		t.Errorf("audit --since yesterday: %v\n%s", err, out)
	}
	for _, l := range []string{"0", "10002", "all"} {
		out, err := d.cliIn(t, bin, "", "audit", "--limit", l)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, "--limit must be 1 to 10001 (nothing was done)") {
			t.Errorf("audit --limit %s: %v\n%s", l, err, out)
		}
	}
	if out := ok("", "audit", "--limit", "2"); !strings.HasSuffix(out, "\n2 entries, newest first (--limit, 100 by default; --json has the diffs)\n") {
		t.Errorf("audit --limit 2:\n%s", out)
	}

	// Settings typed with Postfix's names, or misspelled: refused as
	// typed wrong, with the key meant, before anything is sent.
	for _, tc := range []struct{ arg, want string }{
		{"mynetworks=10.0.0.0/8", `unknown setting "mynetworks": Postfix's mynetworks is my_networks here (keys: external_relay_host, helo_name, hostname, `},
		{"relayhost=[mail.example.net]:587", `unknown setting "relayhost": Postfix's relayhost is external_relay_host here (keys: `},
		{"my_netwroks=10.0.0.0/8", `unknown setting "my_netwroks": did you mean my_networks? (keys: `},
		{"colour=blue", `unknown setting "colour" (keys: `},
	} {
		out, err := d.cliIn(t, bin, "", "settings", "set", tc.arg)
		if exitCode(err) != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("settings set %s: %v\n%s", tc.arg, err, out)
		}
	}
	if out := ok("", "settings", "get"); !strings.Contains(out, "my_networks=127.0.0.0/8,::1/128\n") {
		t.Errorf("settings after the refusals:\n%s", out)
	}

	// Postfix stopped from the terminal: the console's banner is in the
	// status.
	if out := ok("", "postfix", "stop"); out != "Postfix is stopped: no mail is received or delivered until postdeck postfix start\n" {
		t.Errorf("postfix stop:\n%s", out)
	}
	// The status says so and exits 1 (a monitoring check alerts on it),
	// with --json too; the error goes to stderr after the status.
	status, err := d.cliIn(t, bin, "", "status")
	if exitCode(err) != 1 || !strings.Contains(status, "postfix:     stopped") || !strings.Contains(status, "\nerror:       Postfix was stopped by an administrator: no mail is received or delivered. Start it from the dashboard.\n") ||
		!strings.HasSuffix(status, "\npostdeck status: the gateway needs attention: 1 error above\n") {
		t.Errorf("status with Postfix stopped: %v\n%s", err, status)
	}
	var st struct {
		Warnings []struct{ Kind, Text, Link string } `json:"warnings"`
	}
	cmd := exec.Command(bin, "status", "--json")
	cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
	jsonOut, err := cmd.Output()
	if exitCode(err) != 1 {
		t.Errorf("status --json with Postfix stopped: %v, want exit 1", err)
	}
	if err := json.Unmarshal(jsonOut, &st); err != nil || len(st.Warnings) == 0 || st.Warnings[0].Kind != "error" || st.Warnings[0].Link != "/" {
		t.Errorf("status --json with Postfix stopped: %v %+v", err, st)
	}
	if out := ok("", "postfix", "start"); out != "Postfix is running\n" {
		t.Errorf("postfix start:\n%s", out)
	}
	if status := ok("", "status"); !strings.Contains(status, "postfix:     running") || strings.Contains(status, "error:") {
		t.Errorf("status after postfix start:\n%s", status)
	}
	if out, err := d.cliIn(t, bin, "", "postfix", "restart", "--lines", "5"); err == nil || !strings.Contains(out, "--lines is for postfix log") {
		t.Errorf("postfix restart --lines 5: %v\n%s", err, out)
	}

	// Postfix's warnings, as the dashboard lists them: a web browser
	// pointed at the SMTP port makes smtpd warn.
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\n"))
	_, _ = io.ReadAll(conn)
	_ = conn.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		out := ok("", "postfix", "log", "--lines", "20")
		if strings.Contains(out, "warning  ") && strings.Contains(out, "non-SMTP command from") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix log lacks smtpd's warning:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := d.cliIn(t, bin, "", "postfix", "log", "--lines", "1001"); err == nil || !strings.Contains(out, "--lines must be 1 to 1000") {
		t.Errorf("postfix log --lines 1001: %v\n%s", err, out)
	}
}
