package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"postdeck/mta"
)

// Disk roles, the label of the postdeck_disk_* series.
const (
	DiskPostfixQueue = "postfix_queue" // Postfix's queue_directory
	DiskPostdeckData = "postdeck_data" // postdeck's data directory (store, MPA spool)
)

// DiskSpace is the file system of one directory postdeck depends on.
// Free is what an unprivileged process may still use (statfs f_bavail):
// that is what Postfix's smtpd measures (fsspace), and what is left
// before root's reserve is all postdeck has that it may count on.
type DiskSpace struct {
	Role  string `json:"role"` // DiskPostfixQueue or DiskPostdeckData
	Dir   string `json:"dir"`
	Free  uint64 `json:"free_bytes"`
	Total uint64 `json:"total_bytes"`
	// Limit is the free space below which the part that writes there
	// stops: Postfix's smtpd refuses mail (the queue), or postdeck can
	// no longer be sure to spool a message or store a change (the data
	// directory).
	Limit uint64 `json:"limit_bytes"`
}

// dataDirFloor is the least free space postdeck wants in its data
// directory whatever the message size limit: the store grows by whole
// pages of its file, the audit log by every change, the MPA's spool by
// every message in flight.
const dataDirFloor = 64 << 20

// Disks reads the free space of Postfix's queue directory and of
// postdeck's data directory (statfs: no I/O beyond the kernel). A
// directory whose file system cannot be read is left out and logged.
//
// The queue's limit is Postfix's own rule (smtpd_check_size): smtpd
// answers MAIL FROM with 452 4.3.1 Insufficient system storage while the
// queue file system has less free than queue_minfree or 1.5 x
// message_size_limit. The data directory's is the same 1.5 x
// message_size_limit, at least dataDirFloor and the MPA's own floor
// (--mpa-min-free, below which it answers 452): the MPA spools each
// message there before it answers 250.
func (s *Service) Disks(ctx context.Context) []DiskSpace {
	if s.db == nil {
		return nil // a Service without a store: no data directory, no limits
	}
	var sizeLimit, minFree uint64
	if st, err := s.db.LoadSettings(); err == nil && st.MessageSizeLimit > 0 {
		sizeLimit = uint64(st.MessageSizeLimit)
	}
	if doc, err := s.db.LoadMainConfig(); err == nil {
		minFree = queueMinFree(doc)
	}
	smtpdLimit := max(minFree, sizeLimit*3/2)
	var out []DiskSpace
	add := func(role, dir string, limit uint64) {
		if dir == "" {
			return
		}
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err != nil {
			s.log.Warn("disk space", "dir", dir, "err", err)
			return
		}
		bs := uint64(fs.Bsize)
		out = append(out, DiskSpace{Role: role, Dir: dir, Free: fs.Bavail * bs, Total: fs.Blocks * bs, Limit: limit})
	}
	if s.mta != nil {
		add(DiskPostfixQueue, s.mta.QueueDirectory(), smtpdLimit)
	}
	dataLimit := max(dataDirFloor, sizeLimit*3/2)
	if s.mpa != nil {
		// The MPA refuses mail below its own floor (--mpa-min-free):
		// the banner comes no later than that.
		dataLimit = max(dataLimit, uint64(s.mpa.MinFree()))
	}
	add(DiskPostdeckData, filepath.Dir(s.db.Path()), dataLimit)
	return out
}

// queueMinFree is queue_minfree as the main config document sets it
// (Postfix's default, 0, when it does not or names another parameter).
func queueMinFree(doc string) uint64 {
	params, err := mta.ParseMainConfig(doc)
	if err != nil {
		return 0
	}
	var v uint64
	for _, p := range params {
		if p.Name == "queue_minfree" {
			v, _ = strconv.ParseUint(strings.TrimSpace(p.Value), 10, 64)
		}
	}
	return v
}

// diskBanners are the banners of file systems that are low on space: an
// error below the limit (the part has stopped), a warning below twice the
// limit (it will soon).
func diskBanners(disks []DiskSpace) []Banner {
	var out []Banner
	for _, d := range disks {
		if d.Free >= 2*d.Limit {
			continue
		}
		below := d.Free < d.Limit
		kind := "warning"
		if below {
			kind = "error"
		}
		var text string
		switch d.Role {
		case DiskPostfixQueue:
			if below {
				text = fmt.Sprintf("The file system of Postfix's queue (%s) has %s free of %s, less than the %s Postfix needs: Postfix refuses all new mail (452 4.3.1 Insufficient system storage) and senders retry later. Free space on it, or delete or bounce queued mail.",
					d.Dir, SizeText(int64(d.Free)), SizeText(int64(d.Total)), SizeText(int64(d.Limit)))
			} else {
				text = fmt.Sprintf("The file system of Postfix's queue (%s) is nearly full: %s free of %s. Below %s free, Postfix refuses all new mail (452 4.3.1 Insufficient system storage). Free space on it, or delete or bounce queued mail.",
					d.Dir, SizeText(int64(d.Free)), SizeText(int64(d.Total)), SizeText(int64(d.Limit)))
			}
		case DiskPostdeckData:
			if below {
				text = fmt.Sprintf("The file system of postdeck's data directory (%s) has %s free of %s, less than the %s postdeck needs: the MPA may answer new mail with a temporary error (it stays in Postfix's queue), and changes and the audit log may not be saved. Free space on it.",
					d.Dir, SizeText(int64(d.Free)), SizeText(int64(d.Total)), SizeText(int64(d.Limit)))
			} else {
				text = fmt.Sprintf("The file system of postdeck's data directory (%s) is nearly full: %s free of %s. Below %s free, the MPA may answer new mail with a temporary error and changes may not be saved. Free space on it.",
					d.Dir, SizeText(int64(d.Free)), SizeText(int64(d.Total)), SizeText(int64(d.Limit)))
			}
		}
		out = append(out, Banner{Kind: kind, Text: text})
	}
	return out
}

// SizeText is a byte count in binary units, one decimal: "15.4 MiB"
// (the console's and the CLI's sizes).
func SizeText(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 5 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[unit])
}

// Plural is "1 message", "3 messages" (the console's and the CLI's
// counts).
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
