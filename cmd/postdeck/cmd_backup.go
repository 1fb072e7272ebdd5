package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postdeck/atomicfile"
	"postdeck/webui"
)

// cmdBackup writes a backup archive (a consistent database copy and the
// error repository's messages) taken from the running daemon.
func cmdBackup(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the backup may take to arrive, the download included")
	if err := parseCommand(fs, "backup", args); err != nil {
		return err
	}
	if *jsonOut {
		return badUsage("backup writes an archive to FILE, not JSON: --json does not apply to it")
	}
	if err := backupTarget(fs.Arg(0)); err != nil {
		return err
	}
	c := newClient(*socket, false)
	c.http.Timeout = *timeout
	resp, err := c.http.Get("http://postdeck/api/v1/backup")
	if timedOut(err) {
		return backupTimedOut(*timeout, fs.Arg(0))
	}
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The API's sentence, as every other command says it (not its
		// JSON).
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return fmt.Errorf("backup failed: %w", apiErr(raw, resp.StatusCode, 0))
	}
	// The archive holds the whole database (password hashes, the SASL
	// relay passwords): it is 0600 from its first byte, whatever file was
	// there before, and durable (the directory too) before the message
	// says it is written.
	body := &downloadReader{r: resp.Body}
	n, err := atomicfile.Copy(fs.Arg(0), 0o600, body)
	if body.err != nil {
		// The download broke off, not the file: Go's words for it
		// ("context deadline exceeded (Client.Timeout or context
		// cancellation while reading body)", behind the scratch file's
		// path) said neither what happened nor what to do.
		if timedOut(body.err) {
			return backupTimedOut(*timeout, fs.Arg(0))
		}
		return fmt.Errorf("the daemon stopped sending the backup before its end (it may have been stopped or restarted); %s was left as it was: take the backup again", fs.Arg(0))
	}
	if err != nil {
		// A full disk, a quota, a read-only file system: the system's
		// word for it, not Go's chain through the scratch file's path.
		return fmt.Errorf("the backup could not be written to %s (%s); nothing was left there: free space or choose another place, then take the backup again", fs.Arg(0), systemWord(err))
	}
	fmt.Printf("backup written to %s (%d bytes)\n", fs.Arg(0), n)
	return nil
}

// backupTarget says, before the daemon is asked, why FILE cannot take
// a backup: a directory was only found out once the whole backup had
// arrived ("rename /.tmp.tmp1 /tmp: file exists"), a missing directory
// in Go's words about the scratch file's path.
func backupTarget(file string) error {
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory: name the backup's file, such as %s; no backup was taken", file, filepath.Join(file, "postdeck-backup.tar"))
	}
	dir := filepath.Dir(file)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("the directory %s, where %s would go, does not exist: create it first; no backup was taken", dir, file)
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s, where %s would go, is not a directory; no backup was taken", dir, file)
	}
	return nil
}

// backupTimedOut is the answer to a backup that did not arrive whole
// within the client's timeout. The daemon takes a consistent copy of the
// database and the error repository's messages before it sends the
// first byte: a busy or slow disk, or a large repository, makes that
// slow.
func backupTimedOut(timeout time.Duration, file string) error {
	return fmt.Errorf("the backup did not arrive within %s: the daemon may be busy (an apply or a restore), its disk slow, or the backup large; %s was left as it was: try again later, or with a longer --timeout", timeout, file)
}

// systemWord is the system's word for what made a file operation fail
// ("no space left on device", "file too large", "read-only file
// system"), without the path Go's error carries.
func systemWord(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// downloadReader keeps the error of reading the download, to tell it
// from the errors of writing the file.
type downloadReader struct {
	r   io.Reader
	err error
}

func (d *downloadReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		d.err = err
	}
	return n, err
}

// cmdRestore sends a backup archive to the running daemon, which replaces
// its state with it and re-applies Postfix's configuration.
func cmdRestore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := parseCommand(fs, "restore", args); err != nil {
		return err
	}
	f, err := openInput(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	// The daemon hangs up on a larger body before its answer could be
	// read: the CLI would say the daemon cannot be reached.
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Size() > webui.SocketBodyLimit {
		return fmt.Errorf("%s is %d bytes, more than the %d bytes (1 GiB) a restore takes; it was not sent", fs.Arg(0), fi.Size(), webui.SocketBodyLimit)
	}
	c := newClient(*socket, *jsonOut)
	resp, err := c.http.Post("http://postdeck/api/v1/restore", "application/x-tar", f)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return apiErr(raw, resp.StatusCode, 0)
	}
	if c.json {
		return printJSON(raw)
	}
	fmt.Println("restored; Postfix's configuration was re-applied")
	// What the restored configuration warns about, as every other change
	// says it (client.change): nobody saw it on this node before.
	var res struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return nil
}
