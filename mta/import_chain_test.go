package mta

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
)

// TestImportChainAfterCarriesMail follows a message through an imported
// after-queue filter and the MPA: Postfix hands it to the filter (a sink
// standing in for amavis), the filter hands it back to its return
// listener, and from there it goes on to the MPA (a sink on the MPA's
// address), carrying the filter's mark. The existing filter keeps working
// and the MPA comes after it.
func TestImportChainAfterCarriesMail(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	amavis := postfixtest.NewSink(t, 0)
	mpaPort := postfixtest.FreePort(t)
	cf := filepath.Join(t.TempDir(), "chain.cf")
	text := "myhostname = mx.chain.example\ncompatibility_level = 3.6\nmynetworks = 127.0.0.0/8\n" +
		"content_filter = smtp-amavis:[127.0.0.1]:" + strconv.Itoa(amavis.Port) + "\n" + masterMarker +
		"smtp      inet  n       -       y       -       -       smtpd\n@debian-services" +
		"smtp-amavis unix -      -       n       -       2       smtp\n    -o smtp_data_done_timeout=1200\n" +
		"127.0.0.1:10025 inet n  -       n       -       -       smtpd\n    -o content_filter=\n" +
		"    -o smtpd_recipient_restrictions=permit_mynetworks,reject\n    -o mynetworks=127.0.0.0/8\n"
	if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := importDir(t, cf)
	inst := corpusInstance()
	inst.MPAListen = "127.0.0.1:" + strconv.Itoa(mpaPort)
	inst.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: inst, FixedMPAListen: true})
	if err != nil {
		t.Fatal(err)
	}
	// A sink stands in for the MPA, where the import put it.
	mpaSink := postfixtest.NewSink(t, mpaPort)
	run := applyPrivately(t, res)
	st, err := run.m.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	returns := filterReturns(parseMasterCF(st.MasterConfig))
	if len(returns) != 1 {
		t.Fatalf("return listeners: %+v", returns)
	}
	c, err := smtp.Dial(run.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("alice@example.org", []string{"bob@example.net"}, strings.NewReader("Subject: chained\r\n\r\nthrough the filter, then the MPA\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	scanned := amavis.Wait(t, 1, 30*time.Second)[0]
	back, err := smtp.Dial(returns[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.SendMail(scanned.From, scanned.To, strings.NewReader("X-Scanned: by the stand-in filter\r\n"+string(scanned.Data))); err != nil {
		t.Fatalf("return to the filter's listener: %v", err)
	}
	_ = back.Close()
	got := mpaSink.Wait(t, 1, 30*time.Second)[0]
	if !strings.Contains(string(got.Data), "X-Scanned: by the stand-in filter") || !strings.Contains(string(got.Data), "through the filter, then the MPA") || len(got.To) != 1 || got.To[0] != "bob@example.net" {
		t.Errorf("the MPA received %+v", got)
	}
}
