package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/store"
)

const unwireUsage = `usage: postdeck unwire [--data DIR] [--postfix-config DIR] [--private-postfix]
                      [--smtp-listen ADDR] [--table-dirs DIRS] [--postfix-unit UNIT]

Takes postdeck's MPA out of Postfix's mail path, with the daemon stopped
(the package's removal script runs it). The stored configuration is applied
once more without the MPA, through the usual checks, so that main.cf's
content_filter = mpa:..., the "-o content_filter=mpa:..." of the return
listeners of a content filter an import kept beside the MPA, and the MPA's
two master.cf services go; a kept filter (amavis) stays in the mail path,
in main.cf's content_filter. Everything else stays as postdeck last applied
it. Postfix is reloaded, never stopped; a stopped Postfix is started, with
systemctl restart UNIT when --postfix-unit names the unit that runs it (as
serve). The flags take the values serve has (the same POSTDECK_* variables:
source /etc/default/postdeck first).

flags:
`

// unwireOptions are unwire's flags. systemctl is mta.Config.Systemctl
// ("" for systemctl's usual path): tests give a fake one.
type unwireOptions struct {
	inst                               mta.Instance
	data, sbin, postfixUnit, systemctl string
}

// cmdUnwire is `postdeck unwire`.
func cmdUnwire(args []string) error {
	o, err := parseUnwireFlags(args)
	if err != nil {
		return err
	}
	return unwire(o)
}

func parseUnwireFlags(args []string) (unwireOptions, error) {
	var o unwireOptions
	fs := flag.NewFlagSet("unwire", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), unwireUsage)
		fs.PrintDefaults()
	}
	data := fs.String("data", envOr("POSTDECK_DATA", "/var/lib/postdeck"), "data directory (the bbolt database)")
	conf := fs.String("postfix-config", envOr("POSTDECK_POSTFIX_CONFIG", "/etc/postfix"), "Postfix config directory")
	private := fs.Bool("private-postfix", envOr("POSTDECK_PRIVATE_POSTFIX", "") == "true", "the instance in --postfix-config is a private one (as serve --private-postfix)")
	smtpListen := fs.String("smtp-listen", envOr("POSTDECK_SMTP_LISTEN", ""), "where Postfix's smtpd listens (as serve: default :25, or 127.0.0.1:2525 with --private-postfix)")
	tableDirs := fs.String("table-dirs", envOr("POSTDECK_TABLE_DIRS", ""), "comma-separated directories outside --postfix-config where tables may live (as serve)")
	// A Postfix that systemd runs is started through its unit, as serve
	// starts it: a master unwire started itself would run outside
	// postfix.service, which then stays "active (exited)" beside it.
	unit := fs.String("postfix-unit", envOr("POSTDECK_POSTFIX_UNIT", ""), "the systemd unit that runs the system's Postfix (as serve): a stopped Postfix is started with systemctl restart UNIT instead of postfix start")
	sbin := fs.String("sbin", postfix.DefaultSbinDir, "where Postfix's commands are")
	if err := parseArgs(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return o, fmt.Errorf("unwire takes no arguments")
	}
	inst := mta.Instance{ConfigDir: *conf, Private: *private, SMTPListen: *smtpListen}
	if inst.SMTPListen == "" {
		inst.SMTPListen = defaultSMTPListen(inst.Private)
	}
	var err error
	if inst.ConfigDir, err = filepath.Abs(inst.ConfigDir); err != nil {
		return o, err
	}
	if inst.Private {
		inst.BaseDir = filepath.Dir(inst.ConfigDir)
	}
	if inst.TableDirs, err = parseTableDirs(*tableDirs); err != nil {
		return o, err
	}
	return unwireOptions{inst: inst, data: *data, sbin: *sbin, postfixUnit: *unit}, nil
}

// unwire applies the stored configuration once more without the MPA.
func unwire(o unwireOptions) error {
	inst := o.inst
	path := filepath.Join(o.data, "postdeck.db")
	// Only a database that is not there means postdeck never configured
	// this Postfix; one the user may not read is openOffline's to say.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s: postdeck never configured this Postfix (%w)", path, err)
	}
	db, err := openOffline(path)
	if err != nil {
		return err
	}
	defer db.Close()
	// A database without a configuration (a first start that held its
	// takeover stores none) never wired Postfix: applying its empty state
	// would replace the administrator's main.cf and master.cf.
	if seeded, err := db.Initialized(); err != nil {
		return err
	} else if !seeded {
		return fmt.Errorf("the database at %s holds no configuration: postdeck never applied one to this Postfix, so there is nothing to unwire; Postfix's files were left as they are", path)
	}
	w, err := db.LoadWiring()
	if err != nil {
		return err
	}
	// No MPA (MPAListen ""): the filter an import kept is the only one.
	inst.ChainFilter, inst.ChainOrder = w.Filter, w.Order
	log, err := newLogger("text", "warn")
	if err != nil {
		return err
	}
	m, err := mta.New(mta.Config{Instance: inst, SbinDir: o.sbin, PostfixUnit: o.postfixUnit, Systemctl: o.systemctl}, db, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The configuration is the one last applied, less the MPA: a relay it
	// allowed then (allow_open_relay is not stored) is no new decision.
	res, err := m.UpdateWith(ctx, "package removal", "unwire the MPA", mta.ApplyOptions{AllowOpenRelay: true}, func(*store.State) error { return nil })
	if err != nil {
		return err
	}
	filter := "none"
	if w.Filter != "" {
		filter = w.Filter
	}
	fmt.Printf("postdeck: the MPA is out of Postfix's mail path (content filter now: %s). %s\n", filter, res.Message)
	return nil
}
