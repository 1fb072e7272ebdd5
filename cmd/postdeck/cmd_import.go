package main

import (
	"context"
	"encoding/json"
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

const importUsage = `usage: postdeck import [--data DIR] [--dry-run] [--force] [--json] POSTFIX_CONFIG_DIR

Imports an existing Postfix configuration (POSTFIX_CONFIG_DIR/main.cf and the
hash, btree, cidr, pcre and regexp tables it references) into postdeck's
database: the MTA Settings parameters become settings, everything else the
main config document (comments kept), each table a map under maps.d. The
originals are copied to DATA/import-backup-TIME. Nothing in
POSTFIX_CONFIG_DIR changes until the daemon applies the imported state.

It works offline on the database: stop the daemon first (systemctl stop
postdeck), because bbolt lets one process open the file at a time; start it
again to apply. serve does the same by itself at first start when the
database is new and /etc/postfix/main.cf exists.

A main.cf that cannot be represented exactly (for example relay_domains
given as a table, or message_size_limit = 0) is refused with the line to
change; nothing is written then.

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
	mpaListen := fs.String("mpa-listen", envOr("POSTDECK_MPA_LISTEN", mpa.DefaultListen), "the daemon's --mpa-listen (\"\" when the MPA is off): content_filter then belongs to postdeck")
	dryRun := fs.Bool("dry-run", false, "print what would be imported; write nothing")
	force := fs.Bool("force", false, "replace the settings, main config and maps of a database that has them already")
	jsonOut := fs.Bool("json", false, "print the imported state as JSON")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("expected one Postfix configuration directory")
	}
	src, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	ctx := context.Background()
	inst := mta.Instance{ConfigDir: src, SMTPListen: ":25", MPAListen: *mpaListen, ReinjectListen: mpa.DefaultReinjectAddr}
	res, err := mta.ImportForInstance(ctx, inst, *sbin, src)
	if err != nil {
		return err
	}
	if *dryRun {
		return printImport(os.Stdout, res, *jsonOut)
	}
	dataDir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(dataDir, "postdeck.db"))
	if err != nil {
		return fmt.Errorf("%w (is the daemon running? stop it first: systemctl stop postdeck)", err)
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

func printImport(w io.Writer, res *mta.ImportResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res.State)
	}
	s := res.State.Settings
	fmt.Fprintf(w, "hostname:    %s\n", s.Hostname)
	fmt.Fprintf(w, "relay:       domains %s; external %q; internal %q\n", strings.Join(s.RelayDomains, ", "), s.ExternalRelayHost, s.InternalRelayHost)
	fmt.Fprintf(w, "networks:    %s\n", strings.Join(s.MyNetworks, ", "))
	fmt.Fprintf(w, "size limit:  %d; helo %q; verify %v (%d)\n", s.MessageSizeLimit, s.HeloName, s.RejectUnverifiedRecipient, s.UnverifiedRecipientRejectCode)
	for _, m := range res.Maps {
		fmt.Fprintf(w, "map:         %s (%s) from %s\n", m.Name, m.Type, m.Source)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note:        %s\n", n)
	}
	return nil
}

// envOr is the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
