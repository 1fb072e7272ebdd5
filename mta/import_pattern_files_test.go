package mta

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// TestImportListsPatternFilesOutside: a "/file/name" entry of a pattern
// list (relay_domains = /srv/relay/domains, mynetworks, an -o override of
// master.cf) outside the configuration directory is read by Postfix like
// a table, and the apply refuses it unless the daemon's --table-dirs
// lists its directory. The import (and `postdeck import --dry-run`, which
// prints it as "outside:") listed only the directories of tables, so the
// refusal came only at the daemon's apply. The directories of pattern
// files are listed too; one under the configuration directory is not.
func TestImportListsPatternFilesOutside(t *testing.T) {
	postfixtest.Require(t)
	root := postfixtest.Dir(t)
	dir := filepath.Join(root, "etc")
	relay, nets, peers := filepath.Join(root, "relay"), filepath.Join(root, "nets"), filepath.Join(root, "peers")
	files := map[string]string{
		filepath.Join(dir, "main.cf"): "myhostname = mx1.gw.example.org\ncompatibility_level = 3.6\n" +
			"relay_domains = example.org, " + relay + "/domains\n" +
			"mynetworks = 127.0.0.0/8, " + nets + "/trusted\n" +
			"mydestination = $config_directory/local-domains\n",
		filepath.Join(dir, "master.cf"): "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices +
			"submission inet n - y - - smtpd\n  -o smtpd_authorized_xforward_hosts=!" + peers + "/xforward\n",
		filepath.Join(dir, "local-domains"): "localhost\n",
		filepath.Join(relay, "domains"):     "example.net\n",
		filepath.Join(nets, "trusted"):      "192.0.2.0/24\n",
		filepath.Join(peers, "xforward"):    "127.0.0.1\n",
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{nets, peers, relay}
	if !slices.Equal(res.OutsideDirs, want) {
		t.Errorf("outside directories: %q, want %q", res.OutsideDirs, want)
	}
}
