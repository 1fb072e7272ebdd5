package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// pcreRealPatterns are patterns of the kind real pcre and regexp tables
// hold (header_checks, sender and recipient access, canonical and
// transport maps, the examples of Postfix's manuals and of the tests of
// this package): none of them may be refused.
var pcreRealPatterns = []string{
	`/^Subject: .*(offer|deal)/`,
	`/^X-Mailer: [a-z]{1,40}$/`,
	`/^Subject: \d{6}$/`,
	`/^(.+)@old\.example$/`,
	`/(.*)@old\.example/`,
	`/^user@example\.com$/`,
	`!/x/i`,
	`/b\/c/`,
	`/^To: .*@example\.jp/`,
	`/^Subject: .*MOUKEBANASI.*/`,
	`/^Subject: TEST(.*)/`,
	`/^From: .*@gmail\.com/`,
	`/^Received:\sfrom .*\[127\.0\.0\.1\]|^Received:\sfrom .*\[192\.168.*\]|^Received:\sfrom .*\[172\.16.*\]/`,
	`!/^[tT]o:.*@moopinc\.com/`,
	`/^\s*(Received: from)[^\n]*(.*)/`,
	`/^\s*User-Agent/`,
	`/^\s*X-Enigmail/`,
	`/^\s*X-Originating-IP/`,
	`/^\s*Mime-Version:\s*1\.0.*/`,
	`/^Content-(Disposition|Type).*name\s*=\s*"?(.*(\.|=2E)(ade|adp|bat|chm|cmd|com|cpl|exe|hta|ins|isp|jse|lib|lnk|mde|msc|msp|mst|pif|scr|sct|shb|sys|vb|vbe|vbs|vxd|wsc|wsf|wsh))(\?=)?"?\s*(;|$)/x`,
	`/^Content-(Disposition|Type):\s+.+?(?:file)?name="?.+?\.(exe|bat|scr|pif|vbs|js)"?\s*$/i`,
	`/^([a-z0-9-]+\.)*example\.com$/`,
	`/^([a-z0-9-]+\.)+(example|example-mail)\.(com|net)$/i`,
	`/^(?:[^@]+)@(?:[a-z0-9-]+\.)+example\.org$/`,
	`/^[^@]+@(.+\.)?example\.net$/`,
	`/\.(ru|cn|top|xyz)$/`,
	`/^(\d{1,3}\.){3}\d{1,3}$/`,
	`/^unknown$/`,
	`/^.*\.dynamic\..*$/`,
	`/^(dhcp|dsl|cable|ppp|pool)[-.0-9]+\./`,
	`/^([^@]+)@([^.]+)\.example\.com$/`,
	`/^(.*)\+[^@]*@(.*)$/`,
	`/^Received: from .* \(.*\[(\d{1,3}\.){3}\d{1,3}\]\)/`,
	`/^From:.*<([^>]+)>/`,
	`/^Subject:\s*=\?utf-8\?[bq]\?.*\?=\s*$/`,
	`/^(?!.*@example\.com$)/`,
	`/^(?<local>[^@]+)@example\.com$/`,
	`/^X-Spam-Flag:\s+YES/`,
	`/^\s+(by|with|id|for)\s/`,
	`/(?i)^subject:.*\b(viagra|cialis)\b/`,
	`/^[[:alnum:]._%+-]+@[[:alnum:].-]+\.[[:alpha:]]{2,}$/`,
	`/^(?:[a-z0-9!#$%&'*+\/=?^_{|}~-]+(?:\.[a-z0-9!#$%&'*+\/=?^_{|}~-]+)*)@example\.com$/`,
	`/^(\w+)\.(\w+)@example\.com$/`,
	`/\bhttps?:\/\/[^\s\/]+\.(?:tk|ml|ga)\b/`,
	`/^Received: from \S+ \(\S+ \[(\S+)\]\)/`,
	`/^(.+)$/`,
	`/^Subject:.*(a++)+x/`,
	`/(?>a+)+x/`,
	`/(a+)++x/`,
	`/(a+){1,5}x/`,
	`/(ab+)+x/`,
	`/^([a-z]+\.)+com$/`,
	`/a+b+c+/`,
	`/(a|b)+c/`,
	`/[\d\1]+/`,
	`/\Q(a+)+\E/`,
	`/^([^,]*,)*x/`,
	`/^(\S+\s+)*\S+$/`,
	`/(\s+\S+)+$/`,
	`/^([a-z]+[0-9]*\.)+com$/`,
	`/^(?>.*,)+x/`,
}

// TestPCREHazard: the shapes that made PCRE reach its match limit on a
// short crafted line (measured, maps_pcre.go) are refused in a pcre
// table; the harmless ones measured beside them and the patterns of
// real tables are not.
func TestPCREHazard(t *testing.T) {
	for _, p := range []string{
		`/^Subject:.*(a+)+x/`,
		`/(\w+\s?)+$/`,
		`/(x+x+)+y/`,
		`/(a+b?)+x/`,
		`/(\s*\w+)+:/`,
		`/((ab)+)+x/`,
		`/(a*)*x/`,
		`/(a+)*x/`,
		`/(a+){2,}x/`,
		`/(\w+\.?)+:/`,
		`/^(?:[a-z]+\.?)+$/i`,
		`!/( a + ) + x/x`,
		`/(([a-z]+\.)+)+com/`,
		`/(A+)+x/`, // folded: matches a+ too
		`/^(.*,)*x/`,
		`/^To:(.*,)*.*@example\.com/`,
		`/(a.*b)+c/`,
		`/^(.+\.)+example\.com$/`,
	} {
		if got := pcreHazard(p); !strings.Contains(got, "match limit") {
			t.Errorf("%s: %q, want a refusal", p, got)
		}
	}
	for _, p := range pcreRealPatterns {
		if got := pcreHazard(p); got != "" {
			t.Errorf("%s was refused: %q", p, got)
		}
	}
	t.Logf("%d patterns of real tables checked", len(pcreRealPatterns))
}

// TestPCREMatchLimitSkipsRule shows with Postfix's own postmap what the
// rule is about: a nested unbounded repetition answers for its short
// line, but a line of 30 more characters that also holds what the rule
// looks for makes PCRE reach its match limit, and Postfix answers "not
// found" with a warning; the possessive form the refusal suggests
// answers both. A save that adds the pattern to a pcre table is refused
// on its line with Postfix's files as they were; a table stored with it
// keeps it through an edit of another line.
func TestPCREMatchLimitSkipsRule(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	crafted := "Subject: ax" + strings.Repeat("a", 30) + "b"
	for _, c := range []struct {
		pattern, key string
		hit          bool
	}{
		{`/^Subject:.*(a+)+x/`, "Subject: ax", true},
		{`/^Subject:.*(a+)+x/`, crafted, false},
		{`/^Subject:.*(a++)+x/`, "Subject: ax", true},
		{`/^Subject:.*(a++)+x/`, crafted, true},
	} {
		file := filepath.Join(dir, "t.pcre")
		if err := os.WriteFile(file, []byte(c.pattern+" REJECT spam\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := env.m.Postfix().Run(ctx, nil, "postmap", "-q", c.key, "pcre:"+file)
		got := strings.TrimSpace(string(out))
		if c.hit && (err != nil || got != "REJECT spam") {
			t.Fatalf("%s on %q: %q %v %s, want REJECT spam", c.pattern, c.key, got, err, stderr)
		}
		if !c.hit && (err == nil || !strings.Contains(string(stderr), "match limit exceeded")) {
			t.Fatalf("%s on %q: %q %v %s, want no answer and the match limit's warning", c.pattern, c.key, got, err, stderr)
		}
	}

	good := "/^Subject: .*(offer|deal)/ REJECT spam\n/^X-Mailer: [a-z]{1,40}$/ OK\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "pcre", Content: good}, ""); err != nil {
		t.Fatal(err)
	}
	before := env.liveFiles(t)
	bad := `/^Subject:.*(a+)+x/ REJECT spam`
	_, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "pcre", Content: good + "# added\n" + bad + "\n"}, "")
	var ue *store.UserError
	if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != FieldMapContent || ue.Line != 4 ||
		!strings.Contains(ue.Msg, "header-pcre") || !strings.Contains(ue.Msg, "match limit") || !strings.Contains(ue.Msg, "(?>a+)+") {
		t.Fatalf("%v, want a refusal of line 4 naming the map, the match limit and what to write", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "pcre", Content: good + `/^Subject:.*(a++)+x/ REJECT spam` + "\n"}, ""); err != nil {
		t.Fatalf("the possessive form: %v", err)
	}

	// A table stored with the line keeps it through an edit of another.
	stored := good + bad + "\n"
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Maps {
		if st.Maps[i].Name == "header-pcre" {
			st.Maps[i].Content = stored
		}
	}
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "pcre", Content: stored + "/^X-Spam: yes/ DISCARD\n"}, ""); err != nil {
		t.Fatalf("an edit beside a stored line with (a+)+: %v", err)
	}
	// A regexp table retyped to pcre is new to the pattern.
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-re", Type: "regexp", Content: bad + "\n"}, ""); err != nil {
		t.Fatalf("the pattern in a regexp table: %v", err)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-re", Type: "pcre", Content: bad + "\n"}, ""); err == nil {
		t.Fatal("a regexp table with (a+)+ retyped to pcre was accepted")
	}
}

// FuzzPCREHazard: the scan ends, without a panic, on any pattern a save
// may carry.
func FuzzPCREHazard(f *testing.F) {
	for _, p := range pcreRealPatterns {
		f.Add(p)
	}
	for _, p := range []string{`/(?`, `/(?P`, `/(?<`, `/[`, `/[[:`, `/\`, `/\x{`, `/\Q`, `/(?(`, `/a{`, `/a{1,`, `/\p{`, `/(*`, `/(?#`, `/[a-`, `/[\`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		_ = pcreHazard(p)
	})
}
