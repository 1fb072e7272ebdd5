// Package mta shapes Postfix's configuration: it renders main.cf, master.cf
// and the lookup tables (maps) from the store (Render, pure and
// golden-tested), validates them with Postfix's own tools and its own
// checks on a staging copy, and applies them atomically with a backup and a
// rollback when Postfix does not take them (Manager). It also owns the MTA
// settings, the Edit Main Config and Edit Master Config documents, and the
// import of an existing Postfix configuration: ImportWith reads main.cf,
// master.cf and their tables as Postfix reads them (import.go), places the
// MPA beside the configuration's content filter (import_start.go), and
// CheckImport compares what postconf prints for the result with the
// original (import_check.go); a Manager that must not take over the
// running Postfix is held (hold.go).
//
// Before the swap, Postfix's own smtpd is asked whether the staged
// configuration relays mail for strangers (relayprobe.go, smtpd -S through
// postfix.StartSMTPD); after every reload or start, each smtpd listener
// must greet and answer EHLO (serving.go), or the apply rolls back. The
// Edit Main Config document may not change the parameters fixed by the
// installation (InstallationParams), name tables outside the configuration
// directory and --table-dirs (Instance.TableDirs), or name TLS files that
// are missing or keys others may read (guards.go).
//
// Postfix's commands run through package postfix; the traps they hide are
// in docs/postfix.md, and the apply pipeline is drawn in
// docs/architecture.md. The Postfix queue and Send Mail are package queue.
// Audit entries are written by package admin from what Manager returns
// (Result.Diff, ApplyError).
package mta
