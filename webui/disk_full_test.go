package webui

import (
	"context"
	"errors"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/postfix/postfixtest"
)

// TestDiskFullWarnsAndRefusesCleanly: on a gateway whose one file system
// (Postfix's queue and configuration, postdeck's data) fills up, the
// dashboard says so before and while Postfix refuses mail, in the
// numbers Postfix itself goes by (its smtpd answers 452 exactly then),
// /metrics has the free and total bytes, and a settings save on the full
// disk is answered with a sentence that the disk is full while Postfix's
// live files stay byte for byte as they were, with nothing left behind.
func TestDiskFullWarnsAndRefusesCleanly(t *testing.T) {
	var base string
	st := newStackWith(t, stackOptions{Prepare: func(t *testing.T, dir string) {
		base = dir
		postfixtest.MountTmpfs(t, dir, 256<<20)
	}})
	ctx := context.Background()
	settings, err := st.db.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	// Postfix refuses mail below 1.5 x 4 MiB = 6 MiB free.
	settings.MessageSizeLimit = 4 << 20
	if _, err := st.admin.SaveSettings(ctx, admin.Root, admin.SettingsDoc{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, b := range st.admin.Banners(ctx) {
		if strings.Contains(b.Text, "file system") {
			t.Fatalf("banner on an empty disk: %s", b.Text)
		}
	}

	removeFill := postfixtest.FillTo(t, filepath.Join(base, "filler"), 3<<20)
	c := st.login(t, "oper")
	var page string
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := c.send("GET", "/", "", "", nil)
		page = string(r.Body)
		if strings.Contains(page, "Postfix refuses all new mail") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{"The file system of Postfix&#39;s queue (" + st.inst.QueueDir() + ")", "less than the 6.0 MiB Postfix needs", "452 4.3.1 Insufficient system storage",
		"The file system of postdeck&#39;s data directory (" + filepath.Join(base, "data") + ")", "Free space on it"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// Postfix goes by the same numbers.
	sc, err := smtp.Dial(st.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Mail("alice@example.test"); err == nil || !strings.Contains(err.Error(), "452") || !strings.Contains(err.Error(), "Insufficient system storage") {
		t.Errorf("Postfix took MAIL FROM with 3 MiB free: %v", err)
	}
	_ = sc.Close()

	r := st.socketDo(t, "GET", "/metrics", nil)
	for _, dir := range []string{admin.DiskPostfixQueue, admin.DiskPostdeckData} {
		m := regexp.MustCompile(`(?m)^postdeck_disk_free_bytes\{dir="` + dir + `"\} (\S+)$`).FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("/metrics has no free bytes of %s:\n%s", dir, r.Body)
		}
		if free, _ := strconv.ParseFloat(string(m[1]), 64); free > 6<<20 {
			t.Errorf("free bytes of %s: %v", dir, free)
		}
		if !regexp.MustCompile(`(?m)^postdeck_disk_total_bytes\{dir="` + dir + `"\} 2\.68435456e\+08$`).Match(r.Body) {
			t.Errorf("/metrics lacks the total of %s (256 MiB)", dir)
		}
	}

	// Full: a change cannot be written.
	removeFull := postfixtest.FillTo(t, filepath.Join(base, "filler2"), 0)
	before := st.liveFiles(t)
	changed := settings
	changed.Hostname = "mx2.gw.example.test"
	r = st.socketDo(t, "PUT", "/api/v1/settings", changed)
	var body apiError
	r.decode(t, &body)
	if r.Status != 503 || !strings.Contains(body.Error, "the disk that holds Postfix's configuration directory is full") || !strings.Contains(body.Error, "Postfix's files are unchanged") {
		t.Errorf("save on a full disk: %d %s", r.Status, r.Body)
	}
	if strings.Contains(body.Error, base) || strings.Contains(body.Error, "no space left") {
		t.Errorf("the answer shows internal text: %s", body.Error)
	}
	after := st.liveFiles(t)
	if k, ok := sameFiles(before, after); !ok {
		t.Errorf("Postfix's live files changed on a full disk (%s)", k)
	}
	if _, err := os.Stat(filepath.Join(st.inst.ConfigDir, ".postdeck-staging")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the staging directory was left on the full disk: %v", err)
	}

	// Space freed: the same save goes through.
	removeFull()
	removeFill()
	r = st.socketDo(t, "PUT", "/api/v1/settings", changed)
	if r.Status != 200 {
		t.Fatalf("save after freeing space: %d %s", r.Status, r.Body)
	}
	if got, _ := st.db.LoadSettings(); got.Hostname != changed.Hostname {
		t.Errorf("stored hostname %q", got.Hostname)
	}
}

// TestDataDiskLimitFollowsTheMPA: the MPA refuses mail below its own
// floor (--mpa-min-free); the dashboard's limit for the data directory
// was 64 MiB (or 1.5 x message_size_limit) whatever that floor, so with a
// higher floor the MPA answered 452 before any banner said why.
func TestDataDiskLimitFollowsTheMPA(t *testing.T) {
	st := newStackWith(t, stackOptions{MinFreeBytes: 300 << 20})
	for _, d := range st.admin.Disks(context.Background()) {
		if d.Role == admin.DiskPostdeckData {
			if d.Limit != 300<<20 {
				t.Fatalf("data directory limit %d, want the MPA's floor %d", d.Limit, 300<<20)
			}
			return
		}
	}
	t.Fatal("no data directory in Disks")
}
