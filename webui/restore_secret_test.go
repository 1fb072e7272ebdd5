package webui

import (
	"regexp"
	"strings"
	"testing"

	"postdeck/mta"
	"postdeck/store"
)

// TestRestoreKeepsStoredInlinePasswordsWithAWarning: the backup of a
// gateway whose main.cf still holds a SASL password (stored by an earlier
// version, which took such tables; every apply warns about it) restores,
// on a node that does not have it, as the start took it: with the warning
// that says to move it into a map, which a backup cannot follow (refused,
// the backup could be restored nowhere). The password is in no answer,
// no audit entry and not in what the console shows of the main config.
func TestRestoreKeepsStoredInlinePasswordsWithAWarning(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	const secret = "S3cret-0f-the-old-gw"
	withPassword := craftedDB(t, db, func(d *store.DB) error {
		s, err := d.LoadState()
		if err != nil {
			return err
		}
		line := regexp.MustCompile(`(?m)^smtp_sasl_password_maps = .*$`)
		if !line.MatchString(s.MainConfig) {
			t.Fatal("the default main config has no smtp_sasl_password_maps line")
		}
		s.MainConfig = line.ReplaceAllString(s.MainConfig, "smtp_sasl_password_maps = inline:{ [relay.example.test]:587=gwuser:"+secret+" }")
		return d.SaveState(s)
	})
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, withPassword, rest, true)), nil)
	var restored struct {
		Restored bool     `json:"restored"`
		Warnings []string `json:"warnings"`
	}
	r.decode(t, &restored)
	if r.Status != 200 || !restored.Restored {
		t.Fatalf("restore: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(strings.Join(restored.Warnings, " "), "smtp_sasl_password_maps has an inline: table") {
		t.Errorf("the restore's warnings %q do not say where the password is", restored.Warnings)
	}
	if strings.Contains(string(r.Body), secret) {
		t.Errorf("the restore's answer holds the password: %s", r.Body)
	}
	if got := st.socketDo(t, "GET", "/api/v1/mainconfig", nil); got.Status != 200 || strings.Contains(string(got.Body), secret) || !strings.Contains(string(got.Body), "inline:********") {
		t.Errorf("the main config shown after the restore: %d %s", got.Status, got.Body)
	}
	audit, err := st.db.ListAudit(1 << 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if strings.Contains(e.Detail+e.Diff, secret) {
			t.Errorf("audit entry %s %s holds the password", e.Action, e.Result)
		}
	}
	// The next change that keeps it goes through with the warning; the
	// fix takes it out of main.cf.
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": mta.DefaultMainConfig}); r.Status != 200 {
		t.Fatalf("the fix: %d %s", r.Status, r.Body)
	}
}

// TestRestoreRefusalNamesNoBodyKey: a backup whose main config is
// refused says so in the document's own sentence, without the body key
// "text" the main and master config saves share ("refused (text): ..."
// named neither document); the database and the live files stay as they
// were.
func TestRestoreRefusalNamesNoBodyKey(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	unknown := craftedDB(t, db, func(d *store.DB) error {
		s, err := d.LoadState()
		if err != nil {
			return err
		}
		s.MainConfig += "no_such_parameter_here = 1\n"
		return d.SaveState(s)
	})
	e := refusedRestore(t, st, "unknown parameter", archiveOf(t, unknown, rest, true), "configuration is refused", "no_such_parameter_here")
	if strings.Contains(e.Error, "(text)") {
		t.Errorf("the refusal names the body key: %s", e.Error)
	}
}
