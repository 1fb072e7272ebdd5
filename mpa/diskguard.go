package mpa

import (
	"errors"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// errNoSpace is Postfix's own reply when its queue file system is below
// queue_minfree (smtpd_check_size): Postfix keeps the message queued and
// shows this reason in its queue, which tells the administrator why mail
// waits. It is the answer of the disk guard and of a spool write or
// commit that failed for lack of space.
var errNoSpace = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}

// noSpaceHold is how long a write that failed for lack of space keeps the
// guard on whatever statfs says: a file system out of inodes, or a quota,
// shows free bytes, and without the hold each next message would fail
// its write (and log it) instead of being refused at MAIL FROM.
const noSpaceHold = 5 * time.Second

// diskGuard refuses new mail, like Postfix's smtpd with queue_minfree,
// while the file system of the spool or of the database has less free
// space than the floor: a message taken there might not be storable, and
// the workers need the room left to record deliveries, which is how the
// spool drains and space comes back. An episode (from going below the
// floor to being back above it) is logged once at its start and once at
// its end, not per refused message.
type diskGuard struct {
	dirs []string // the spool directory and the database's
	mu   sync.Mutex
	low  bool      // refusing new mail (under mu)
	hold time.Time // a failed write keeps low until then (under mu)
	free int64     // the last measure, -1 when statfs failed (under mu)
	// measured is when free was measured (under mu).
	measured time.Time
}

// diskMeasureEvery is how long a measure far above the floor stands
// (checkDisk).
const diskMeasureEvery = 250 * time.Millisecond

func newDiskGuard(spoolDir, dbPath string) *diskGuard {
	dirs := []string{spoolDir}
	if dbPath != "" {
		dirs = append(dirs, filepath.Dir(dbPath))
	}
	return &diskGuard{dirs: dirs, free: -1}
}

// measure returns the least free space (statfs f_bavail, what Postfix's
// smtpd measures) over the guard's directories, or -1 when none could be
// measured.
func (g *diskGuard) measure() int64 {
	free := int64(-1)
	for _, d := range g.dirs {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(d, &fs); err != nil {
			continue
		}
		if f := int64(fs.Bavail) * int64(fs.Bsize); free < 0 || f < free {
			free = f
		}
	}
	return free
}

// MinFree is the floor: Config.MinFreeBytes, and never less than one and
// a half of the largest message taken, as Postfix's smtpd requires of
// its queue file system.
func (s *Server) MinFree() int64 {
	return max(s.cfg.MinFreeBytes, s.maxSize.Load()/2*3)
}

// checkDisk measures the free space and reports whether new mail of size
// bytes (0: unknown) is to be refused. The guard ends once the free space
// is back above the floor by a twentieth of it, so that a disk hovering
// at the floor makes one episode rather than one per message.
func (s *Server) checkDisk(size int64) bool {
	g := s.disk
	floor := s.MinFree()
	now := time.Now()
	g.mu.Lock()
	free := g.free
	// Far above the floor, a measure a moment old will do: a statfs of
	// each directory at every MAIL FROM cost the MPA alone a few percent
	// of its rate, and a write that fails for lack of space meanwhile
	// turns the guard on all the same (noSpace). Near the floor, every
	// MAIL FROM measures.
	cached := free >= 4*floor && now.Sub(g.measured) < diskMeasureEvery
	g.mu.Unlock()
	if !cached {
		free = g.measure()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !cached {
		g.free, g.measured = free, now
	}
	if free < 0 {
		return g.low // not measurable: only a failed write says
	}
	switch {
	case !g.low && free < floor:
		g.low = true
		s.log.Warn("mpa refuses new mail: its file system is below the free space floor (452 4.3.1, postfix keeps the mail queued)",
			"free_bytes", free, "min_free_bytes", floor)
	case g.low && free >= floor+floor/20 && time.Now().After(g.hold):
		g.low = false
		s.log.Info("mpa takes new mail again: free space is back above the floor", "free_bytes", free, "min_free_bytes", floor)
	}
	return g.low || free-size < floor
}

// noSpace reports whether err is a write that failed for lack of space
// (ENOSPC, or EDQUOT for a quota); if so it turns the guard on, logged
// once for the episode, so that new mail is refused at MAIL FROM.
func (s *Server) noSpace(err error) bool {
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return false
	}
	g := s.disk
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = time.Now().Add(noSpaceHold)
	if !g.low {
		g.low = true
		s.log.Warn("mpa refuses new mail: a write to its spool or database failed for lack of space (452 4.3.1, postfix keeps the mail queued)",
			"err", err)
	}
	return true
}

// diskState is the last measure and whether the guard refuses mail, for
// Counts.
func (s *Server) diskState() (free int64, low bool) {
	s.checkDisk(0)
	g := s.disk
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.free, g.low
}
