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
	name := "import-backup-" + time.Now().UTC().Format("20060102T150405Z")
	backup := filepath.Join(backupRoot, name)
	// A second import within the same second (an import, then import
	// --force) gets a name of its own; BackupConfig never reuses one (any
	// other error than "exists" is its to say, not a next name's).
	for i := 2; ; i++ {
		if _, err := os.Lstat(backup); err != nil {
			break
		}
		backup = filepath.Join(backupRoot, fmt.Sprintf("%s-%d", name, i))
	}
	if err := mta.BackupConfig(src, backup, res); err != nil {
		return "", err
	}
	if err := db.SaveState(res.State); err != nil {
		return "", fmt.Errorf("store imported state: %w", err)
	}
	maps, left := fmt.Sprintf("%d maps", len(res.Maps)), fmt.Sprintf("%d tables left as they are", len(res.Unmanaged))
	if len(res.Maps) == 1 {
		maps = "1 map"
	}
	if len(res.Unmanaged) == 1 {
		left = "1 table left as it is"
	}
	detail := fmt.Sprintf("imported %s with %s (%s); originals in %s; mail path: %s", src, maps, left, backup, res.Chain)
	if len(res.Notes) > 0 {
		detail += "; " + strings.Join(res.Notes, "; ")
	}
	if err := db.AppendAudit(store.AuditEntry{Actor: actor.Actor(), Action: "import", Result: "imported", Detail: detail}); err != nil {
		return backup, fmt.Errorf("write audit entry: %w", err)
	}
	return backup, nil
}

// FirstStartOptions describe the daemon a first start imports for.
type FirstStartOptions struct {
	// Instance is the daemon's instance as its flags say (MPA addresses
	// included: the import may move them, see FixedMPAListen).
	Instance mta.Instance
	// FixedMPAListen and FixedReinjectListen: the addresses were given
	// explicitly; a collision with the configuration is refused rather
	// than moved.
	FixedMPAListen, FixedReinjectListen bool
	// ChainOrder puts the MPA after (default) or before a content filter
	// the configuration has.
	ChainOrder string
	SbinDir    string
	// BackupRoot receives import-backup-TIME (the data directory).
	BackupRoot string
}

// FirstStart is what ImportOnFirstStart did.
type FirstStart struct {
	// Imported is true when the configuration was imported and stored.
	Imported bool
	// Held says why postdeck must not apply anything: the import was
	// refused, or taking over would change what Postfix does. The daemon
	// then holds its Manager (mta.Manager.Hold) and the original keeps
	// running.
	Held string
	// Result and Report are the import and its check, when they ran.
	Result *mta.ImportResult
	Report *mta.CheckReport
}

// ImportOnFirstStart imports the system's Postfix into a new database
// before the first apply: when the database has never been seeded, the
// instance is not private and ConfigDir/main.cf exists, it imports that
// configuration and checks the result the way `postdeck import --check`
// does. When only the MPA's wiring and the managed map paths differ, it
// keeps the originals under BackupRoot and stores the state, so that the
// first apply changes nothing else Postfix does. Otherwise it stores
// nothing and returns why in Held (one audit entry, and the log): the
// daemon must then not apply anything, since seeding the defaults or
// applying a different configuration would replace a working one. An error
// is an internal failure.
func ImportOnFirstStart(ctx context.Context, db *store.DB, opts FirstStartOptions, log *slog.Logger) (FirstStart, error) {
	inst := opts.Instance
	if inst.Private {
		return FirstStart{}, nil
	}
	seeded, err := db.Initialized()
	if err != nil || seeded {
		return FirstStart{}, err
	}
	mainCF := filepath.Join(inst.ConfigDir, "main.cf")
	if _, err := os.Stat(mainCF); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return FirstStart{}, nil
		}
		return FirstStart{}, fmt.Errorf("import at first start: %w", err)
	}
	hold := func(fs FirstStart, reason string) (FirstStart, error) {
		fs.Held = reason
		log.Error("postdeck does not take over the running Postfix; it keeps its configuration and changes nothing", "config", inst.ConfigDir, "reason", reason)
		if err := db.AppendAudit(store.AuditEntry{Actor: System("system").Actor(), Action: "import at first start", Result: mta.ResultHeld, Detail: reason}); err != nil {
			return fs, fmt.Errorf("write audit entry: %w", err)
		}
		return fs, nil
	}
	res, err := mta.ImportWith(ctx, inst.ConfigDir, mta.ImportOptions{SbinDir: opts.SbinDir, Instance: inst,
		FixedMPAListen: opts.FixedMPAListen, FixedReinjectListen: opts.FixedReinjectListen, Order: opts.ChainOrder})
	// The import's own sentence opens with "Cannot import: ", which this
	// one says already, and ends with "then import again", which the
	// daemon does at its next start: the hold takes the problem and the
	// fix and says to restart postdeck.
	var ie *mta.ImportError
	if errors.As(err, &ie) {
		do := ". Fix it and restart postdeck"
		if ie.Fix != "" {
			do = "; " + ie.Fix + ", then restart postdeck"
		}
		// A machine without room (a full temporary disk) has nothing
		// wrong in main.cf: starting from the defaults would drop a
		// configuration that imports once there is space.
		or := ", or move main.cf away to start from postdeck's defaults"
		if errors.Is(err, store.ErrUnavailable) {
			or = ""
		}
		return hold(FirstStart{}, fmt.Sprintf("%s cannot be imported: %s%s%s.", mainCF, ie.Problem, do, or))
	}
	var ue *store.UserError
	if errors.As(err, &ue) {
		why := strings.TrimPrefix(ue.Msg, "Cannot import: ")
		return hold(FirstStart{}, fmt.Sprintf("%s cannot be imported: %s Fix it and restart postdeck, or move main.cf away to start from postdeck's defaults.", mainCF, why))
	}
	if err != nil {
		return FirstStart{}, fmt.Errorf("import %s at first start: %w", mainCF, err)
	}
	rep, err := mta.CheckImport(ctx, opts.SbinDir, inst.ConfigDir, res)
	if err != nil {
		return FirstStart{}, err
	}
	fs := FirstStart{Result: res, Report: rep}
	if changed := rep.Changed(); len(changed) > 0 {
		return hold(fs, TakeoverRefusal(inst.ConfigDir, changed))
	}
	backup, err := SaveImport(db, System("system"), inst.ConfigDir, opts.BackupRoot, res)
	if err != nil {
		return fs, err
	}
	fs.Imported = true
	log.Info("imported the existing Postfix configuration", "config", inst.ConfigDir, "maps", len(res.Maps), "left_as_is", len(res.Unmanaged), "backup", backup, "chain", res.Chain)
	for _, n := range res.Notes {
		log.Info("import note", "note", n)
	}
	for _, u := range res.Unmanaged {
		log.Info("import left a table as it is", "table", u.Ref, "used_by", strings.Join(u.Params, ", "), "reason", u.Reason)
	}
	return fs, nil
}

// TakeoverRefusal says, in one sentence, what taking over dir would
// change and what the administrator can do.
func TakeoverRefusal(dir string, changed []mta.Difference) string {
	var parts []string
	for i, d := range changed {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(changed)-5))
			break
		}
		switch {
		case !d.InResult:
			parts = append(parts, fmt.Sprintf("%s %s would be dropped (%q)", d.File, d.Name, truncate(d.Original, 60)))
		case !d.InOriginal:
			parts = append(parts, fmt.Sprintf("%s %s would be added (%q)", d.File, d.Name, truncate(d.Result, 60)))
		default:
			parts = append(parts, fmt.Sprintf("%s %s would change from %q to %q", d.File, d.Name, truncate(d.Original, 60), truncate(d.Result, 60)))
		}
	}
	return fmt.Sprintf("Taking over %s would change more than the MPA's wiring and the managed map paths: %s. The original configuration keeps running; review it with `postdeck import --check %s`, then fix it and restart postdeck, or import it anyway with the daemon stopped (`postdeck import --accept-changes %s`).", dir, strings.Join(parts, "; "), dir, dir)
}
