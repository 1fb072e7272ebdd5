package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"postdeck/admin"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/store"
)

const importUsage = `usage: postdeck import [--data DIR] [--check | --dry-run] [--force] [--accept-changes]
                      [--mpa-listen ADDR] [--reinject-listen ADDR] [--chain-order after|before] [--json] POSTFIX_CONFIG_DIR

Imports an existing Postfix configuration (POSTFIX_CONFIG_DIR/main.cf,
master.cf and the tables they reference) into postdeck's database: the MTA
Settings parameters become settings, the parameters the installation fixes
(daemon_directory, mail_owner, ...) are kept as they are, everything else
becomes the main config document (comments kept), master.cf the master config
document, and each hash, btree, cidr, pcre or regexp table under
POSTFIX_CONFIG_DIR a map under maps.d. Every other table (mysql, ldap,
lmdb, proxy:..., files elsewhere) stays a reference to its file, and the
summary lists them. The MPA is placed on loopback ports the configuration
does not use and after (or before) a content_filter it has. The originals
are copied to DATA/import-backup-TIME. Nothing in POSTFIX_CONFIG_DIR changes
until the daemon applies the imported state.

Every import renders the result into a temporary directory and compares what
postconf -n, -F and -P print there with the original, parameter by
parameter. --check prints that and exits 0 when the only differences are the
MPA's wiring and the paths of the maps postdeck manages (values written
differently that postconf -x expands the same are listed, not counted). An
import with other differences is refused unless --accept-changes.

It works offline on the database: stop the daemon first (systemctl stop
postdeck), because bbolt lets one process open the file at a time; start it
again to apply. serve does the same by itself at first start when the
database is new and /etc/postfix/main.cf exists; it keeps the original
running, and says why, when the check finds other differences.

flags:
`

// cmdImport is `postdeck import DIR`.
func cmdImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	data := fs.String("data", envOr("POSTDECK_DATA", "/var/lib/postdeck"), "data directory (the bbolt database)")
	sbin := fs.String("sbin", postfix.DefaultSbinDir, "where Postfix's commands are")
	mpaListen := fs.String("mpa-listen", envOr("POSTDECK_MPA_LISTEN", mpa.DefaultListen), "the MPA's address (\"\" when the MPA is off: content_filter stays in the document); moved to a free port when the configuration uses it, unless given")
	reinjectListen := fs.String("reinject-listen", envOr("POSTDECK_REINJECT_LISTEN", mpa.DefaultReinjectAddr), "the MPA's reinjection listener; moved like --mpa-listen")
	order := fs.String("chain-order", mta.ChainAfter, "where the MPA goes relative to a content_filter the configuration has: after or before")
	check := fs.Bool("check", false, "compare the imported state with the original (postconf -n, -F, -P) and print the differences; write nothing")
	dryRun := fs.Bool("dry-run", false, "print what would be imported; write nothing")
	force := fs.Bool("force", false, "replace the settings, main config and maps of a database that has them already")
	accept := fs.Bool("accept-changes", false, "store the import even when the check finds differences besides the MPA's wiring and the map paths")
	jsonOut := fs.Bool("json", false, "print the imported state (with --check: the differences) as JSON")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("expected one Postfix configuration directory")
	}
	if *order != mta.ChainAfter && *order != mta.ChainBefore {
		return fmt.Errorf("--chain-order %q: use after or before", *order)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	_, envMPA := os.LookupEnv("POSTDECK_MPA_LISTEN")
	_, envReinject := os.LookupEnv("POSTDECK_REINJECT_LISTEN")
	src, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	ctx := context.Background()
	inst := mta.Instance{ConfigDir: src, SMTPListen: ":25", MPAListen: *mpaListen, ReinjectListen: *reinjectListen}
	res, err := mta.ImportWith(ctx, src, mta.ImportOptions{SbinDir: *sbin, Instance: inst, Order: *order,
		FixedMPAListen: set["mpa-listen"] || envMPA, FixedReinjectListen: set["reinject-listen"] || envReinject})
	if err != nil {
		return err
	}
	rep, err := mta.CheckImport(ctx, *sbin, src, res)
	if err != nil {
		return err
	}
	changed := rep.Changed()
	if *check {
		if *jsonOut {
			if err := printJSONValue(os.Stdout, rep); err != nil {
				return err
			}
		} else {
			fmt.Printf("mail path:   %s\n", res.Chain)
			rep.Format(os.Stdout)
		}
		if len(changed) > 0 {
			what := fmt.Sprintf("%d differences", len(changed))
			if len(changed) == 1 {
				what = "1 difference"
			}
			return fmt.Errorf("%s besides the MPA's wiring and the managed map paths", what)
		}
		return nil
	}
	if *dryRun {
		if err := printImport(os.Stdout, res, *jsonOut); err != nil {
			return err
		}
		if !*jsonOut {
			rep.Format(os.Stdout)
		}
		return nil
	}
	if len(changed) > 0 && !*accept {
		rep.Format(os.Stderr)
		return fmt.Errorf("%s", admin.TakeoverRefusal(src, changed))
	}
	dataDir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	db, err := openOffline(filepath.Join(dataDir, "postdeck.db"))
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	seeded, err := db.Initialized()
	if err != nil {
		return err
	}
	if seeded && !*force {
		return fmt.Errorf("the database in %s has settings already; --force replaces its settings, main config and maps with the import", dataDir)
	}
	backup, err := admin.SaveImport(db, admin.System("cli"), src, dataDir, res)
	if err != nil {
		return err
	}
	if err := printImport(os.Stdout, res, *jsonOut); err != nil {
		return err
	}
	if !*jsonOut {
		fmt.Printf("originals:   %s\n", backup)
		fmt.Println("start postdeck (systemctl start postdeck) to apply the imported configuration")
	}
	return nil
}

func printJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printImport prints the summary of an import: the settings, the maps, the
// tables left as they are, the installation parameters, the mail path and
// the notes.
func printImport(w io.Writer, res *mta.ImportResult, asJSON bool) error {
	if asJSON {
		return printJSONValue(w, res.State)
	}
	s := res.State.Settings
	fmt.Fprintf(w, "hostname:    %s\n", s.Hostname)
	fmt.Fprintf(w, "relay:       domains %s; external %q; internal %q", strings.Join(s.RelayDomains, ", "), s.ExternalRelayHost, s.InternalRelayHost)
	if s.RelayTransport != "" {
		fmt.Fprintf(w, " through %s", s.RelayTransport)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "networks:    %s\n", strings.Join(s.MyNetworks, ", "))
	fmt.Fprintf(w, "size limit:  %d; helo %q; verify %v (%d)\n", s.MessageSizeLimit, s.HeloName, s.RejectUnverifiedRecipient, s.UnverifiedRecipientRejectCode)
	for _, m := range res.Maps {
		fmt.Fprintf(w, "map:         %s (%s) from %s\n", m.Name, m.Type, m.Source)
	}
	for _, u := range res.Unmanaged {
		fmt.Fprintf(w, "left as is:  %s (%s): %s\n", u.Ref, strings.Join(u.Params, ", "), u.Reason)
	}
	if len(res.OutsideDirs) > 0 {
		fmt.Fprintf(w, "outside:     %s (tables and pattern files left as they are live there; the daemon applies them only when --table-dirs lists these directories)\n", strings.Join(res.OutsideDirs, ", "))
	}
	if len(res.Installation) > 0 {
		fmt.Fprintf(w, "installation: %s (kept as imported)\n", strings.Join(res.Installation, ", "))
	}
	fmt.Fprintf(w, "mail path:   %s\n", res.Chain)
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note:        %s\n", n)
	}
	return nil
}

// openOffline opens the database for a command that works with the daemon
// stopped (import, unwire). Permission denied is said as such: the hint to
// stop the daemon would send a user who is not root the wrong way.
func openOffline(path string) (*store.DB, error) {
	db, err := store.Open(path)
	switch {
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%w: the database is root's alone; run the command as root", err)
	case err != nil:
		return nil, fmt.Errorf("%w (is the daemon running? stop it first: systemctl stop postdeck)", err)
	}
	return db, nil
}

// envOr is the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
