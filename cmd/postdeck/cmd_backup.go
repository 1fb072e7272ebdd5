package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

// cmdBackup writes a backup archive (a consistent database copy and the
// error repository's messages) taken from the running daemon.
func cmdBackup(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	socket, _ := clientFlags(fs)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: postdeck backup FILE")
	}
	c := newClient(*socket, false)
	resp, err := c.http.Get("http://postdeck/api/v1/backup")
	if err != nil {
		return fmt.Errorf("cannot reach the daemon (is `postdeck serve` running?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("backup failed: HTTP %d: %s", resp.StatusCode, raw)
	}
	tmp := fs.Arg(0) + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, fs.Arg(0))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	fmt.Printf("backup written to %s (%d bytes)\n", fs.Arg(0), n)
	return nil
}

// cmdRestore sends a backup archive to the running daemon, which replaces
// its state with it and re-applies Postfix's configuration.
func cmdRestore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: postdeck restore FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	c := newClient(*socket, *jsonOut)
	resp, err := c.http.Post("http://postdeck/api/v1/restore", "application/x-tar", f)
	if err != nil {
		return fmt.Errorf("cannot reach the daemon (is `postdeck serve` running?): %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return apiErr(raw, resp.StatusCode)
	}
	if c.json {
		return printJSON(raw)
	}
	fmt.Println("restored; Postfix's configuration was re-applied")
	return nil
}
