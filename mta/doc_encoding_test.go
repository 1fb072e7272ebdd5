package mta

import (
	"context"
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// TestReplacementCharacterInADocumentIsRefused: as for maps
// (TestReplacementCharacterInAMapIsRefused), an imported main.cf or
// master.cf with Latin-1 bytes (a comment, a reply text, a -o value) is kept
// as its bytes, but the API's JSON, the CLI's `mainconfig get` and the
// console show each such byte as U+FFFD, and saving the document
// unchanged from them replaced the value in Postfix's live file without
// a word. Such a line is refused on its line with the live files as they
// were; a line stored with U+FFFD already may stay.
func TestReplacementCharacterInADocumentIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	// As an import stores them: the files' bytes.
	mainDoc := st.MainConfig + "# r\xe9glages du service\nsmtpd_reject_footer = Caf\xe9 au lait\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", mainDoc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	masterDoc := st.MasterConfig
	if masterDoc == "" {
		masterDoc = DefaultMasterConfig(env.inst)
	}
	masterDoc += "# caf\xe9\n"
	if _, err := env.m.SaveMasterConfig(ctx, "tester", masterDoc, ""); err != nil {
		t.Fatal(err)
	}
	if got := env.postconf(t, "smtpd_reject_footer"); got != "Caf\xe9 au lait" {
		t.Fatalf("smtpd_reject_footer %q", got)
	}
	before := env.liveFiles(t)
	// What JSON clients and the console send back for them.
	mainSent := strings.ToValidUTF8(mainDoc, "\ufffd")
	_, err = env.m.SaveMainConfig(ctx, "tester", mainSent, MainConfigVersion(mainDoc), ApplyOptions{})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != FieldMainConfig || ue.Line != strings.Count(st.MainConfig, "\n")+1 || !strings.Contains(ue.Msg, "U+FFFD") {
		t.Fatalf("main config with U+FFFD for a Latin-1 byte: want a refusal of its line, got %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	_, err = env.m.SaveMasterConfig(ctx, "tester", strings.ToValidUTF8(masterDoc, "\ufffd"), MasterConfigVersion(masterDoc))
	if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line != strings.Count(masterDoc, "\n") || !strings.Contains(ue.Msg, "U+FFFD") {
		t.Fatalf("master config with U+FFFD for a Latin-1 byte: want a refusal of its line, got %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// A document stored with U+FFFD (before this check) may be edited
	// elsewhere.
	st, err = env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.MainConfig = mainSent
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", mainSent+"# one more line\n", MainConfigVersion(mainSent), ApplyOptions{}); err != nil {
		t.Fatalf("an edit beside a stored line with U+FFFD: %v", err)
	}
}
