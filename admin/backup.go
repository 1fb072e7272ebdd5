package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/store"

	"golang.org/x/crypto/bcrypt"
)

// Names inside a backup archive.
const (
	backupDBName  = "postdeck.db"
	backupDBSum   = "postdeck.db.sha256" // hex SHA-256 of postdeck.db
	backupBodyDir = "mpa/"
	// maxRestoreFile bounds one file of a restored archive.
	maxRestoreFile = 1 << 30
	// maxRestoreEntries bounds the number of files in a restored archive.
	maxRestoreEntries = 1 << 20
	// maxRestoreUpload is the most any restore reads (the socket's body
	// limit: the CLI refuses a larger file before sending it).
	maxRestoreUpload = 1 << 30
	// restoreUploadFloor is the least a restore's bound on its upload is
	// on a node whose own database is small (a fresh node that takes a
	// busier one's backup: settings, maps, users, the audit log).
	restoreUploadFloor = 256 << 20
	// restoreHeadBytes is how much of the backup's database is read
	// before its first page is checked (bbolt's meta page is at its
	// start).
	restoreHeadBytes = 4096
)

// Backup writes a tar archive of a consistent copy of the database and the
// message bodies of the error repository in that copy.
func (s *Service) Backup(ctx context.Context, id Identity, w io.Writer) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	left, err := s.writeBackup(w)
	if err != nil {
		s.auditFailure(id, "backup", err)
		return err
	}
	detail := ""
	if len(left) > 0 {
		detail = fmt.Sprintf("without %s: %s cannot be read (written by another postdeck version, or damaged) and %s only in the live error repository",
			plural(int64(len(left)), "the error-repository entry "+namedIDs(left), "the error-repository entries "+namedIDs(left)),
			plural(int64(len(left)), "it", "they"), plural(int64(len(left)), "stays", "stay"))
	}
	s.audit(id, "backup", "taken", detail, "")
	return nil
}

// namedIDs names ids, the first ten of them; an id that is not a spool
// id (a damaged record's key) is quoted, so that no byte of it reaches
// the audit log or the log as it is.
func namedIDs(ids []string) string {
	shown := make([]string, len(ids))
	for i, id := range ids {
		shown[i] = id
		if !store.ValidSpoolID(id) {
			shown[i] = strconv.QuoteToASCII(truncate(id, 100))
		}
	}
	return store.NamedIDs(shown, 10)
}

// writeBackup writes the archive and returns the ids of the error
// entries it left out because their records do not decode.
//
// Such a record (another version's, an old backup's, a damaged one) is
// left out of the archive, with its message, rather than carried as it
// is: a restore refuses a backup whose error repository holds a record
// it cannot decode (store.VerifyFile), as it must, since it could not
// check the record's id, size or envelope; carried, that one record
// would make the whole backup, and every acknowledged message in it,
// impossible to restore. The record and its message stay untouched in
// the live repository (where it can be read by the version that wrote
// it, or deleted), and the audit entry and the log name it.
func (s *Service) writeBackup(w io.Writer) (unreadable []string, err error) {
	dbf, err := os.CreateTemp("", "postdeck-snapshot-*.db")
	if err != nil {
		return nil, fmt.Errorf("create snapshot file: %w", err)
	}
	defer os.Remove(dbf.Name())
	defer dbf.Close()
	errorIDs, err := s.db.Snapshot(dbf)
	if err != nil {
		return nil, err
	}
	if len(errorIDs) > 0 {
		if unreadable, err = snapshotUnreadable(dbf.Name()); err != nil {
			return nil, err
		}
	}
	if len(unreadable) > 0 {
		s.log.Warn("backup: error-repository entries that cannot be read are left out of the backup (they stay in the live repository)",
			"count", len(unreadable), "ids", namedIDs(unreadable))
	}
	skip := make(map[string]bool, len(unreadable))
	for _, id := range unreadable {
		skip[id] = true
	}
	tw := tar.NewWriter(w)
	// The messages first: one deleted (or requeued and delivered) after
	// the snapshot is gone before its file is read, and its entry must
	// then leave the archive's database too, or the backup would restore
	// an entry whose message is nowhere.
	var gone []string
	if s.mpa != nil {
		for _, id := range errorIDs {
			if skip[id] {
				continue
			}
			body, err := s.mpa.OpenBody(id)
			if errors.Is(err, fs.ErrNotExist) {
				gone = append(gone, id) // kept inline in the database, or deleted meanwhile
				continue
			}
			if err != nil {
				return nil, err
			}
			f, ok := body.(*os.File)
			if !ok {
				_ = body.Close()
				return nil, fmt.Errorf("backup body %s: not a file", id)
			}
			err = addTarFile(tw, backupBodyDir+id, f)
			_ = body.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	if err := dropBodiless(dbf.Name(), gone, unreadable); err != nil {
		return nil, err
	}
	if err := addTarFile(tw, backupDBName, dbf); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(dbf.Name())
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: backupDBSum, Mode: 0o600, Size: int64(len(sum)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return nil, fmt.Errorf("backup %s: %w", backupDBSum, err)
	}
	if _, err := io.WriteString(tw, sum); err != nil {
		return nil, fmt.Errorf("backup %s: %w", backupDBSum, err)
	}
	return unreadable, tw.Close()
}

// snapshotUnreadable returns the ids of the error entries of the
// snapshot database at path whose records do not decode, or whose key is
// not a spool id (only a damaged database has one: its message cannot be
// named, and a restore refuses the key), for writeBackup to leave out.
func snapshotUnreadable(path string) ([]string, error) {
	db, err := store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: open the snapshot: %w", err)
	}
	rec, err := db.MPARecovery()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("backup: read the snapshot: %w", err)
	}
	var ids []string
	left := make(map[string]bool, len(rec.UnreadableErrors))
	for _, u := range rec.UnreadableErrors {
		ids = append(ids, u.ID)
		left[u.ID] = true
	}
	for _, id := range rec.ErrorIDs {
		if !store.ValidSpoolID(id) && !left[id] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// dropBodiless takes out of the snapshot database at path the error
// entries of ids (their message file was not found) whose body it does
// not keep inline either: those messages were deleted or requeued after
// the snapshot, and the backup holds them as the repository is now. It
// also takes out the entries of unreadable, with their inline bodies
// (writeBackup).
func dropBodiless(path string, ids, unreadable []string) error {
	if len(ids) == 0 && len(unreadable) == 0 {
		return nil
	}
	db, err := store.Open(path)
	if err != nil {
		return fmt.Errorf("backup: open the snapshot: %w", err)
	}
	inline, err := db.MPABodySizes()
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("backup: read the snapshot: %w", err)
	}
	drop := append([]string(nil), unreadable...)
	for _, id := range ids {
		if _, ok := inline[id]; !ok {
			drop = append(drop, id)
		}
	}
	if _, err := db.MPAErrorForget(drop); err != nil {
		_ = db.Close()
		return fmt.Errorf("backup: drop entries without their message: %w", err)
	}
	return db.Close()
}

// addTarFile appends f under name with mode 0600.
func addTarFile(tw *tar.Writer, name string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Restored bool   `json:"restored"`
	Messages int    `json:"messages"`
	Changed  bool   `json:"changed"`
	Message  string `json:"message"`
	// Warnings are what the apply of the restored state warns about, as
	// a change of the settings or an apply would say it: the backup's
	// configuration was saved elsewhere, and nobody saw them here.
	Warnings []string `json:"warnings,omitempty"`
}

// Restore replaces the stored state with a backup archive's (all but the
// live MPA spool, whose messages are acknowledged and being delivered),
// restores the error repository's messages and applies the result.
//
// Nothing is replaced before everything was checked: the database file in
// a child process (a damaged bbolt file can fault the process that maps
// it, which no recover() catches), then the whole restored state (the
// configuration as an apply would check it, up to Postfix's own checks of
// the staged files; the MPA pipeline; users, tokens and SPF sources). A
// refused restore changes nothing but the audit log's entry saying why;
// one that Postfix refuses at reload is rolled back to the state before.
func (s *Service) Restore(ctx context.Context, id Identity, archive io.Reader) (RestoreResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return RestoreResult{}, err
	}
	var res RestoreResult
	var err error
	if s.clusterNode() != nil {
		// A restore replaces this node's database; the cluster would put
		// its configuration and users back at the next revision. Seeding
		// under the cluster's prefix again is refused (it has a
		// configuration already) with the advice to join it, which would
		// take the cluster's configuration over the restored one: the
		// sentence names the ways that keep the backup.
		err = store.Conflict("This node is in a cluster, where a restore would replace only this node's copy (the cluster puts its own configuration back), so nothing was restored. To make a backup the cluster's configuration, restore it on a standalone node (started without the --cluster-* flags), stop it and seed the cluster from it with `postdeck cluster init` under a new --cluster-prefix (or after the old prefix was removed from etcd), then `postdeck cluster join` every other node with that prefix")
	} else {
		res, err = s.restore(ctx, id, archive)
	}
	if err != nil {
		s.auditFailure(id, "restore", err)
		return res, err
	}
	s.audit(id, "restore", "restored", fmt.Sprintf("%d error-repository messages; %s", res.Messages, res.Message), "")
	return res, nil
}

// restoreRunning is the answer to a restore asked for while another
// runs. Each replaces everything: queued behind the first, the second
// would replace the first's backup a minute later, and the administrator
// told "restored" about the first would find the other's state; its
// upload (up to a GiB, in memory) would wait all that time too.
func restoreRunning() error {
	return store.Conflict("Another restore is running; wait until it has finished (the audit log records it), then restore this backup again if it should still replace that one")
}

func (s *Service) restore(ctx context.Context, id Identity, archive io.Reader) (_ RestoreResult, refused error) {
	if !s.restoring.TryLock() {
		return RestoreResult{}, restoreRunning()
	}
	defer s.restoring.Unlock()
	dir, err := os.MkdirTemp("", "postdeck-restore-")
	if err != nil {
		return RestoreResult{}, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, backupDBName)
	limit, err := s.restoreLimit(ctx)
	if err != nil {
		return RestoreResult{}, err
	}
	read := map[string]int64{}
	bodies, err := extractBackup(s.log, &uploadLimit{r: archive, limit: limit}, dir, dbPath, read)
	if err != nil {
		return RestoreResult{}, err
	}
	// 1. The file itself, in a child process.
	if err := s.verifyDB(ctx, dbPath); err != nil {
		return RestoreResult{}, err
	}
	// 2. The whole restored state, before anything is replaced.
	var sizes error
	entries, warnings, err := s.checkRestored(ctx, dbPath, read, &sizes)
	if err != nil {
		return RestoreResult{}, err
	}
	named := make(map[string]bool, len(entries))
	for _, e := range entries {
		named[e.ID] = true
	}
	// A message no entry names would be written into the live spool
	// directory and stay there, a refused restore's too: a backup never
	// holds one (Backup takes the ids from the same snapshot).
	for _, bid := range bodies {
		if !named[bid] {
			return RestoreResult{}, store.Invalid("file", "The backup holds the message %s%s, but no error-repository entry of its database names it; it was not restored", backupBodyDir, bid)
		}
	}
	hold, err := s.checkErrorQuota(ctx, entries, dir)
	if err != nil {
		return RestoreResult{}, err
	}
	defer hold.Release()
	// A message of another size than its entry declares (checkRestored)
	// is refused after the quota's answer: a backup beyond the quota is
	// told what it would add, each message counted at the larger size.
	if sizes != nil {
		return RestoreResult{}, sizes
	}
	// Bodies first: an error entry must never point at a missing message.
	// A restore refused from here on leaves none of those it wrote that
	// no entry names.
	if s.mpa != nil {
		var written []string
		defer func() {
			if refused != nil {
				s.mpa.DropRestoredBodies(written)
			}
		}()
		for _, bid := range bodies {
			f, err := os.Open(filepath.Join(dir, "body-"+bid))
			if err != nil {
				return RestoreResult{}, err
			}
			wrote, err := s.mpa.RestoreBody(bid, f)
			_ = f.Close()
			if wrote {
				written = append(written, bid)
			}
			if err != nil {
				return RestoreResult{}, err
			}
		}
	}
	// 3. The replacement and its apply, with no other apply in between
	// (one that loaded the state before would store it over the
	// backup's). before is a copy of the live database taken right before
	// it is replaced, to go back to if Postfix refuses the restored
	// configuration at reload.
	before := filepath.Join(dir, "before.db")
	var added []string
	rolledBack := false
	res, err := s.mta.ReplaceStored(ctx, id.Actor(), func() error {
		if err := s.snapshotTo(before); err != nil {
			return err
		}
		var err error
		if added, err = s.db.RestoreFrom(dbPath); err != nil {
			return fmt.Errorf("restore database: %w", err)
		}
		return nil
	}, func(applyErr error) error {
		// Postfix refused what every check accepted (a port in use, ...):
		// go back to the database and files as they were. The error
		// repository stays as it is now (entries that came meanwhile
		// stay, those deleted or requeued meanwhile stay gone), and the
		// backup's entries are taken out again.
		if rerr := s.db.ReturnTo(before); rerr != nil {
			return fmt.Errorf("the restored configuration failed to apply (%w), and going back failed too: %v", applyErr, rerr)
		}
		var ferr error
		if s.mpa != nil {
			ferr = s.mpa.ForgetRestored(added)
		} else {
			_, ferr = s.db.MPAErrorForget(added)
		}
		if ferr != nil {
			s.log.Error("a refused restore could not take the backup's error-repository entries out again; they stay listed", "err", ferr)
		}
		rolledBack = true
		return nil
	})
	// The running parts read what is stored now: the backup's, or after
	// a refusal what was there before.
	s.afterReplace(ctx)
	if err != nil {
		if !rolledBack {
			return RestoreResult{}, err
		}
		var ae *mta.ApplyError
		if errors.As(err, &ae) {
			return RestoreResult{}, store.Invalid("file", "The backup was not restored: Postfix refused its configuration at %s: %s; everything is as it was before", ae.Stage, ae.PostfixSaid)
		}
		// A refusal of the apply's own checks after the restore's (the
		// open-relay probe, an smtpd that cannot serve) is about the
		// backup, not about a field of a form the restore does not have.
		var ue *store.UserError
		if errors.As(err, &ue) {
			return RestoreResult{}, restoreRefused(ue, errors.Is(err, mta.ErrOpenRelay))
		}
		return RestoreResult{}, fmt.Errorf("restore: apply the restored configuration: %w", err)
	}
	return RestoreResult{Restored: true, Messages: len(added), Changed: res.Changed, Message: store.Sentence("%s", res.Message),
		Warnings: append(warnings, res.Warnings...)}, nil
}

// restoreRefused is the answer to a restore whose configuration the
// re-apply refused with a user error, after the rollback. An open relay's
// refusal ends with advice for a save (allow_open_relay, which a restore
// does not take; the change to make, which here is in the backup): the
// restore's answer keeps what the probe found, before that last sentence.
func restoreRefused(ue *store.UserError, openRelay bool) error {
	msg := strings.TrimSuffix(ue.Msg, ".")
	if ue.Line > 0 {
		msg = strings.TrimPrefix(msg, fmt.Sprintf("Line %d: ", ue.Line))
	}
	if openRelay {
		if i := strings.LastIndex(msg, ". "); i > 0 {
			msg = msg[:i]
		}
		return store.Invalid("file", "The backup was not restored: its configuration makes Postfix an open relay, which a restore does not put live (%s); everything is as it was before", msg)
	}
	return store.Invalid("file", "The backup was not restored: its configuration is refused (%s); everything is as it was before", msg)
}

// afterReplace makes the running parts read the replaced database: the
// MPA's pipeline and the SPF refresher's schedules; and the first login's
// file goes when the replaced users make its password invalid.
func (s *Service) afterReplace(ctx context.Context) {
	s.DropStaleFirstLogin()
	if s.mpa != nil {
		if err := s.mpa.Restored(ctx); err != nil {
			s.log.Error("reload the mpa pipeline and error repository after a restore", "err", err)
		}
		if st, err := s.db.LoadSettings(); err == nil {
			s.mpa.SetLimits(st.MessageSizeLimit, 0)
		}
	}
	if r := s.spf.Load(); r != nil {
		if err := r.Resync(ctx); err != nil {
			s.log.Error("resync spf sources after a restore", "err", err)
		}
	}
}

// restoreLimit is the most a restore's upload may hold on this node. A
// backup is a database like this one and the error repository's
// messages: four times the live database (at least restoreUploadFloor)
// and the error repository's byte quota (which bounds the messages a
// restore may hold: checkErrorQuota), with a tar header per entry, and
// never more than maxRestoreUpload. Without the bound an endless upload
// (`postdeck restore /dev/zero`) was read until the socket's GiB.
func (s *Service) restoreLimit(ctx context.Context) (int64, error) {
	size, err := s.db.Size()
	if err != nil {
		return 0, err
	}
	limit := max(4*size, restoreUploadFloor)
	if s.mpa != nil {
		c, err := s.mpa.Counts(ctx)
		if err != nil {
			return 0, err
		}
		limit += c.ErrorQuotaBytes + 1024*int64(c.ErrorQuotaEntries)
	}
	return min(limit, maxRestoreUpload), nil
}

// uploadLimit reads a restore's upload up to limit bytes; one more is
// the refusal (restoreTooLarge), which extractBackup passes on as it is.
type uploadLimit struct {
	r        io.Reader
	n, limit int64
}

func (u *uploadLimit) Read(p []byte) (int, error) {
	if u.n > u.limit {
		return 0, restoreTooLarge(u.limit)
	}
	if rest := u.limit + 1 - u.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.n > u.limit {
		return n, restoreTooLarge(u.limit)
	}
	return n, err
}

// restoreTooLarge is the answer to an upload larger than restoreLimit.
func restoreTooLarge(limit int64) error {
	return store.Invalid("file", "The backup is larger than the %d bytes a restore takes on this node (four times its database, at least %d MiB, and its error repository's quota, --mpa-error-quota-bytes; at most 1 GiB), so it cannot be a backup of a postdeck like this one; it was not restored", limit, restoreUploadFloor>>20)
}

// checkDBHead refuses a backup whose database does not begin as a
// bbolt file does: its first page is a meta page with bbolt's magic
// number and format version (go.etcd.io/bbolt's common.Magic and
// common.Version, in the machine's byte order, after the 16-byte page
// header). Checked on the first restoreHeadBytes, before the rest of a
// file of up to a GiB is read and written to the disk.
func checkDBHead(head []byte) error {
	const magic, version = 0xED0CDAED, 2
	if len(head) < 24 || binary.NativeEndian.Uint32(head[16:]) != magic {
		return store.Invalid("file", "The backup's %s does not begin as a database does (a postdeck database is a bbolt file, whose first page says so): it is damaged, or the file is no postdeck backup; it was not restored", backupDBName)
	}
	if v := binary.NativeEndian.Uint32(head[20:]); v != version {
		return store.Invalid("file", "The backup's %s is marked as a bbolt file of format version %d, which this postdeck does not read (it reads version %d): it is damaged, or another program wrote it; it was not restored", backupDBName, v, version)
	}
	return nil
}

// extractBackup writes the archive's database to dbPath and its messages
// to dir/body-ID, and returns the message ids; read gets each message's
// size as counted while it was read (not its tar header's word). The
// database must match the archive's checksum when it has one (backups
// before the checksum have none). What Go's tar reader says of a damaged
// archive goes to log, not to the answer.
func extractBackup(log *slog.Logger, archive io.Reader, dir, dbPath string, read map[string]int64) ([]string, error) {
	notArchive := func(err error) error {
		log.Warn("restore: read the backup archive", "err", err)
		return store.Invalid("file", "The backup is not a postdeck backup archive (its tar structure is damaged; postdeck's log has the details); it was not restored")
	}
	var bodies []string
	var wantSum string
	in := &countingReader{r: archive}
	tr := tar.NewReader(in)
	var end int64 // where the last entry's content ends, padding included
	for n := 0; ; n++ {
		if n > maxRestoreEntries {
			return nil, store.Invalid("file", "The backup holds more than %d files", maxRestoreEntries)
		}
		hdr, err := tr.Next()
		var ue *store.UserError
		if errors.As(err, &ue) {
			return nil, err // the upload's bound (uploadLimit)
		}
		if errors.Is(err, io.EOF) && n == 0 && in.n > 0 {
			// The archive's end mark where its first file belongs: an
			// upload of zero bytes (/dev/zero) or an empty archive.
			return nil, store.Invalid("file", "The backup holds no file: it begins with zero bytes where a postdeck backup's first file is; it was not restored")
		}
		if errors.Is(err, io.EOF) {
			// tar.Reader ends as quietly where the stream stops between
			// two entries as after the archive's end (zero blocks, which
			// it reads): a download cut there would restore a part of
			// the backup.
			if in.n == 0 {
				return nil, store.Invalid("file", "The backup is empty (0 bytes); it was not restored")
			}
			if in.n <= end {
				return nil, incompleteBackup()
			}
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, incompleteBackup()
		}
		if err != nil {
			return nil, notArchive(err)
		}
		// A backup holds plain files only. A sparse entry (GNU or PAX)
		// reads back as its whole declared size of zeros: a few KiB of
		// archive would write up to maxRestoreFile per entry to the disk;
		// a link or a device has no content of its own.
		if hdr.Typeflag != tar.TypeReg || sparseEntry(hdr) {
			return nil, store.Invalid("file", "The backup holds %q, which is not a plain file (a link, a directory or a sparse file); a postdeck backup holds plain files only", truncate(hdr.Name, 80))
		}
		end = in.n + (hdr.Size+511)/512*512
		if u, ok := archive.(*uploadLimit); ok && end > u.limit {
			// Refused at its header, before its content is read.
			return nil, restoreTooLarge(u.limit)
		}
		switch {
		case hdr.Name == backupDBName:
			head := make([]byte, min(hdr.Size, restoreHeadBytes))
			if _, err := io.ReadFull(tr, head); errors.As(err, &ue) {
				return nil, err
			} else if err != nil {
				return nil, incompleteBackup()
			}
			if err := checkDBHead(head); err != nil {
				return nil, err
			}
			if err := writeLimited(dbPath, hdr.Name, io.MultiReader(bytes.NewReader(head), tr)); err != nil {
				return nil, err
			}
		case hdr.Name == backupDBSum:
			b, err := io.ReadAll(io.LimitReader(tr, 128))
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, incompleteBackup()
			}
			if err != nil {
				return nil, notArchive(err)
			}
			wantSum = strings.TrimSpace(string(b))
		case strings.HasPrefix(hdr.Name, backupBodyDir):
			bid := strings.TrimPrefix(hdr.Name, backupBodyDir)
			if !store.ValidSpoolID(bid) {
				return nil, store.Invalid("file", "The backup holds an unexpected file %q", truncate(hdr.Name, 80))
			}
			body := &countingReader{r: tr}
			if err := writeLimited(filepath.Join(dir, "body-"+bid), hdr.Name, body); err != nil {
				return nil, err
			}
			bodies = append(bodies, bid)
			read[bid] = body.n
		default:
			return nil, store.Invalid("file", "The backup holds an unexpected file %q", truncate(hdr.Name, 80))
		}
	}
	if _, err := os.Stat(dbPath); err != nil {
		return nil, store.Invalid("file", "The backup archive has no %s", backupDBName)
	}
	if wantSum != "" {
		got, err := fileSHA256(dbPath)
		if err != nil {
			return nil, err
		}
		if got != wantSum {
			return nil, store.Invalid("file", "The backup's database does not match its checksum: the file was damaged in transit or in storage; it was not restored")
		}
	}
	return bodies, nil
}

// incompleteBackup is the answer to an archive that stops before its end.
func incompleteBackup() error {
	return store.Invalid("file", "The backup is incomplete: the archive stops before its end, as a download or copy that was cut short does; it was not restored")
}

// countingReader counts the bytes read through it (and hides a Seek,
// so that tar.Reader reads what it skips).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sparseEntry reports whether hdr is a PAX sparse file (GNU tar's
// --sparse in the posix format; the GNU format's is TypeGNUSparse).
func sparseEntry(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// verifyDB checks the database file with the configured verifier (a child
// process; see store.VerifyFile).
func (s *Service) verifyDB(ctx context.Context, path string) error {
	v := s.verify
	if v == nil {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("verify backup: %w", err)
		}
		v = ChildVerifier(exe)
	}
	return v(ctx, path)
}

// ChildVerifier verifies a database file by running exe with
// store.VerifyEnv set (exe calls store.RunVerifyChild first thing). A
// child that dies (a fault in a damaged file) or runs past a minute
// refuses the file; this process never maps it before that.
func ChildVerifier(exe string) func(ctx context.Context, path string) error {
	return func(ctx context.Context, path string) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = append(os.Environ(), store.VerifyEnv+"="+path, "GOTRACEBACK=none")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = io.Discard
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ee) && ee.ExitCode() == 1 && out.Len() > 0:
			return store.Invalid("file", "%s", truncate(out.String(), 500))
		case ctx.Err() != nil:
			return store.Invalid("file", "The backup's database could not be checked within a minute; it was not restored")
		}
		return store.Invalid("file", "The backup's database is damaged: reading it crashed the checker (%v); it was not restored", err)
	}
}

// checkRestored opens a copy of the backup database (migrating an older
// schema) and validates everything a restore would put live. It returns
// the backup's error-repository entries and what its settings warn about
// (the apply warns about the rest). An entry whose message (inline, or
// in the archive with the size read) differs from its declared size is
// the refusal it puts in *sizes (bodySizeMismatch), answered after the
// error quota's.
func (s *Service) checkRestored(ctx context.Context, dbPath string, read map[string]int64, sizes *error) ([]store.ErrorEntry, []string, error) {
	probe := dbPath + ".probe"
	if err := copyFile(dbPath, probe); err != nil {
		return nil, nil, err
	}
	defer os.Remove(probe)
	db, err := store.Open(probe)
	if err != nil {
		s.log.Warn("restore: open the backup's database", "err", err)
		return nil, nil, store.Invalid("file", "The uploaded backup is not a postdeck database or is damaged (postdeck's log has the details); it was not restored")
	}
	defer db.Close()
	st, err := db.LoadState()
	if err != nil {
		return nil, nil, s.unreadableBackup("configuration", err)
	}
	if err := s.mta.CheckBackup(ctx, st); err != nil {
		var ue *store.UserError
		if errors.As(err, &ue) {
			// "text" is the main and the master config's field: the
			// body key of their saves, which names neither here. Their
			// sentences say what they are about (a parameter, a service).
			if ue.Field == mta.FieldMainConfig || ue.Field == mta.FieldMasterConfig {
				return nil, nil, store.Invalid("file", "The backup's configuration is refused: %s", ue.Msg)
			}
			return nil, nil, store.Invalid("file", "The backup's configuration is refused (%s): %s", ue.Field, ue.Msg)
		}
		var ae *mta.ApplyError
		if errors.As(err, &ae) {
			return nil, nil, store.Invalid("file", "The backup's configuration is refused by Postfix: %s", ae.PostfixSaid)
		}
		return nil, nil, fmt.Errorf("check the backup's configuration: %w", err)
	}
	// Check accepted the settings; what a save of them warns about
	// (ValidateSettings) the apply does not say again.
	_, warnings, _ := mta.ValidateSettings(st.Settings)
	if p, err := db.MPAPipelineGet(); err != nil {
		return nil, nil, s.unreadableBackup("MPA pipeline", err)
	} else if err := mpa.ValidatePipeline(p); err != nil {
		return nil, nil, store.Invalid("file", "The backup's MPA rules and templates are refused: %s", err)
	}
	users, err := db.ListUsers()
	if err != nil {
		return nil, nil, s.unreadableBackup("users", err)
	}
	admins := 0
	for _, u := range users {
		if store.ValidUsername(u.Username) != nil || !store.ValidRole(u.Role) {
			return nil, nil, store.Invalid("file", "The backup holds a user with a bad name or role (%q)", truncate(u.Username, 64))
		}
		if _, err := bcrypt.Cost(u.PasswordHash); err != nil {
			return nil, nil, store.Invalid("file", "The backup holds user %s with a damaged password hash", u.Username)
		}
		if u.Role == store.RoleAdmin {
			admins++
		}
	}
	if admins == 0 {
		return nil, nil, store.Invalid("file", "The backup has no admin user: after restoring it, nobody could log in to administer postdeck")
	}
	tokens, err := db.ListTokens()
	if err != nil {
		return nil, nil, s.unreadableBackup("tokens", err)
	}
	for _, t := range tokens {
		if !store.ValidRole(t.Role) {
			return nil, nil, store.Invalid("file", "The backup holds token %q with an unknown role", truncate(t.Name, 64))
		}
	}
	srcs, err := db.ListSPFSources()
	if err != nil {
		return nil, nil, s.unreadableBackup("SPF sources", err)
	}
	for _, src := range srcs {
		if _, err := jobs.ValidateSource(jobs.SourceInput{Domain: src.Domain, Map: src.Map, Schedule: src.Schedule, Value: src.Value}); err != nil {
			return nil, nil, store.Invalid("file", "The backup's SPF source %s is refused: %s", truncate(src.Map, 64), err)
		}
	}
	entries, err := db.MPAErrorList()
	if err != nil {
		return nil, nil, s.unreadableBackup("error repository", err)
	}
	inline, err := db.MPABodySizes()
	if err != nil {
		return nil, nil, s.unreadableBackup("error repository", err)
	}
	*sizes = bodySizeMismatch(entries, inline, read)
	countInlineBodies(entries, inline)
	return entries, warnings, nil
}

// bodySizeMismatch refuses a backup whose error-repository entry declares
// another size than its message has: kept inline in its database
// (inline), or its file in the archive as read (read). The MPA writes
// each entry with its message's size, and the live repository's usage,
// which bounds what the MPA takes in (the error quota), adds up the
// declared sizes of the entries a restore adds: an entry declared smaller
// than its message would take the repository past the quota by the
// difference, and one declared larger would hold its place.
func bodySizeMismatch(entries []store.ErrorEntry, inline, read map[string]int64) error {
	for _, e := range entries {
		if n, ok := inline[e.ID]; ok && n != e.Size {
			return store.Invalid("file", "The backup's error-repository entry %s says its message has %d bytes, but the message its database holds has %d: the backup is damaged or was altered; it was not restored", e.ID, e.Size, n)
		}
		if n, ok := read[e.ID]; ok && n != e.Size {
			return store.Invalid("file", "The backup's error-repository entry %s says its message has %d bytes, but the message %s%s in the archive has %d: the backup is damaged or was altered; it was not restored", e.ID, e.Size, backupBodyDir, e.ID, n)
		}
	}
	return nil
}

// countInlineBodies makes each entry whose message the backup's database
// keeps inline count with its body when that is larger than its entry
// says, as one in the archive does (checkErrorQuota): the declared size
// is only the backup's word. sizes are the inline bodies' lengths
// (store.MPABodySizes, which reads the lengths only: a copy of every body
// would allocate as much as the backup's database holds).
func countInlineBodies(entries []store.ErrorEntry, sizes map[string]int64) {
	for i, e := range entries {
		if n, inline := sizes[e.ID]; inline {
			entries[i].Size = max(e.Size, n)
		}
	}
}

// checkErrorQuota refuses a restore whose error-repository entries would
// take this node's repository past its quota (entries or bytes): a backup
// of a busier node, or a crafted one, would fill the data disk past the
// bound the MPA keeps, and restoring only some of the entries would lose
// acknowledged messages. Entries the restore would not add (live in the
// repository or the spool) do not count; a message counts with its
// declared size or, when larger, its file's in the archive (dir/body-ID)
// or its inline body's (checkRestored). The entries it counts stay held
// against the quota until the restore ends (mpa.HoldForRestore): its
// merge commits in chunks while the MPA takes mail, and the MPA answers
// as the repository will be after it.
func (s *Service) checkErrorQuota(ctx context.Context, entries []store.ErrorEntry, dir string) (*mpa.RestoreHold, error) {
	if s.mpa == nil || len(entries) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, size := 0, int64(0)
	for _, e := range entries {
		if _, err := s.db.MPAErrorGet(e.ID); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return nil, err
			}
			continue
		}
		if _, err := s.db.MPASpoolGet(e.ID); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return nil, err
			}
			continue
		}
		n++
		b := max(e.Size, 0)
		if fi, err := os.Stat(filepath.Join(dir, "body-"+e.ID)); err == nil {
			b = max(b, fi.Size())
		}
		size += b
	}
	hold, c, ok := s.mpa.HoldForRestore(n, size)
	if ok {
		return hold, nil
	}
	return nil, store.Invalid("file", "The backup's error repository would add %d messages (%d bytes) to the %d (%d bytes) here, more than this node's error-repository quota of %d messages and %d bytes; make room (delete or requeue entries here) or raise the quota (--mpa-error-quota-entries, --mpa-error-quota-bytes), then restore again; it was not restored",
		n, size, c.Entries, c.Bytes, c.QuotaEntries, c.QuotaBytes)
}

// unreadableBackup is the answer to a backup whose database opens but
// whose part cannot be read. The error (the server's file paths, bbolt's
// and the decoder's words) goes to the log, not to the administrator.
func (s *Service) unreadableBackup(part string, err error) error {
	s.log.Warn("restore: read the backup's database", "part", part, "err", err)
	return store.Invalid("file", "The backup's %s cannot be read: the backup is damaged (postdeck's log has the details); it was not restored", part)
}

// snapshotTo writes a consistent copy of the live database to path.
func (s *Service) snapshotTo(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := s.db.Snapshot(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// writeLimited writes the archive's entry name to path, which it must not
// hold yet (an archive that holds name twice is refused by that name, not
// by the scratch file's).
func writeLimited(path, name string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return store.Invalid("file", "The backup holds %s twice", name)
	}
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, maxRestoreFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return incompleteBackup()
	}
	if err != nil {
		return err
	}
	if n > maxRestoreFile {
		return store.Invalid("file", "A file in the backup is larger than %d bytes", maxRestoreFile)
	}
	return nil
}

// fileSHA256 is the hex SHA-256 of a file's content.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
