package mta

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// TestPostconfNChecksMasterCF: the apply asks `postconf -n -x` alone for
// Postfix's check of a changed main.cf and master.cf (expandedConfig),
// because postconf reads and checks master.cf whatever it shows. Here the
// installed Postfix must print, for each broken master.cf, the problem
// `postconf -M` prints, and nothing for a sound one.
func TestPostconfNChecksMasterCF(t *testing.T) {
	postfixtest.Require(t)
	dir := t.TempDir()
	main := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(main, []byte("myhostname = mx.example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(main, old, old); err != nil {
		t.Fatal(err)
	}
	pf := postfix.Runner{SbinDir: postfix.DefaultSbinDir, ConfigDir: dir}
	const sound = "smtp inet n - n - - smtpd\npickup unix n - n 60 1 pickup\n"
	for _, extra := range []string{
		"",
		"x bogustype n - n - - smtp\n",
		"x unix n - n\n",
		"x unix maybe - n - - smtp\n",
		"x unix n - n 60x - smtp\n",
		"x unix n - n - xx smtp\n",
		"x unix n - n - - smtp\n  -o smtp_sasl_password_maps=$undefined_parameter\n",
		"  -o orphan_parameter=1\n",
		"smtp inet n - n - - smtpd\n", // a duplicate: neither says anything (master warns at run time)
	} {
		if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(sound+extra), 0o644); err != nil {
			t.Fatal(err)
		}
		_, nErr, nRunErr := pf.Run(context.Background(), nil, "postconf", "-n", "-x")
		_, mErr, mRunErr := pf.Run(context.Background(), nil, "postconf", "-M")
		nBad, mBad := nRunErr != nil || hasProblem(nErr), mRunErr != nil || hasProblem(mErr)
		if nBad != mBad || firstProblem(string(nErr)) != firstProblem(string(mErr)) {
			t.Errorf("master.cf with %q:\npostconf -n -x said (%v) %q\npostconf -M said (%v) %q", extra, nRunErr, nErr, mRunErr, mErr)
		}
		if extra == "" && nBad {
			t.Errorf("a sound master.cf: %q", nErr)
		}
	}
}
