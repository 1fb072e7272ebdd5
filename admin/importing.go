package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postdeck/mta"
	"postdeck/store"
)

// SaveImport stores an imported configuration in db (which the daemon does
// not hold open: the offline `postdeck import`, or the daemon before it
// starts) after copying the originals to backupRoot/import-backup-TIME, and
// writes its audit entry. It returns the backup directory.
func SaveImport(db *store.DB, actor Identity, src, backupRoot string, res *mta.ImportResult) (string, error) {
	backup := filepath.Join(backupRoot, "import-backup-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := mta.BackupConfig(src, backup, res); err != nil {
		return "", err
	}
	if err := db.SaveState(res.State); err != nil {
		return "", fmt.Errorf("store imported state: %w", err)
	}
	detail := fmt.Sprintf("imported %s with %d maps; originals in %s", src, len(res.Maps), backup)
	if len(res.Notes) > 0 {
		detail += "; " + strings.Join(res.Notes, "; ")
	}
	if err := db.AppendAudit(store.AuditEntry{Actor: actor.Actor(), Action: "import", Result: "imported", Detail: detail}); err != nil {
		return backup, fmt.Errorf("write audit entry: %w", err)
	}
	return backup, nil
}

// ImportOnFirstStart imports the system's Postfix into a new database
// before the first apply: when the database has never been seeded, the
// instance is not private and inst.ConfigDir/main.cf exists, it imports
// that configuration, keeps the originals under backupRoot and stores the
// state, so that the first apply renders the same Postfix behaviour
// instead of seeding the defaults. It reports whether it imported. An error
// means main.cf cannot be represented exactly; the database stays unseeded
// and the daemon should stop, since seeding the defaults would replace a
// working configuration.
func ImportOnFirstStart(ctx context.Context, db *store.DB, inst mta.Instance, sbinDir, backupRoot string, log *slog.Logger) (bool, error) {
	if inst.Private {
		return false, nil
	}
	seeded, err := db.Initialized()
	if err != nil || seeded {
		return false, err
	}
	mainCF := filepath.Join(inst.ConfigDir, "main.cf")
	if _, err := os.Stat(mainCF); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("import at first start: %w", err)
	}
	res, err := mta.ImportForInstance(ctx, inst, sbinDir, inst.ConfigDir)
	if err != nil {
		return false, fmt.Errorf("import %s at first start: %w (fix it and start again, or move main.cf away to start from postdeck's defaults)", mainCF, err)
	}
	backup, err := SaveImport(db, System("system"), inst.ConfigDir, backupRoot, res)
	if err != nil {
		return false, err
	}
	log.Info("imported the existing Postfix configuration", "config", inst.ConfigDir, "maps", len(res.Maps), "backup", backup)
	for _, n := range res.Notes {
		log.Info("import note", "note", n)
	}
	return true, nil
}
