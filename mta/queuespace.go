package mta

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"postdeck/store"
)

// Room in the queue that the configuration asks for and the disk does not
// have.
//
// smtpd answers every MAIL FROM "452 4.3.1 Insufficient system storage"
// when the queue's file system has queue_minfree bytes free or less, or
// less than 1.5 times message_size_limit (smtpd_check_queue in Postfix's
// smtpd_check.c, in blocks). queue_minfree = 1000000000000000 (a typo)
// passed every check and the reload; the open-relay probe met the 452 and
// only warned, and every sender was told to try again later, for good
// (measured on make run). So is a Message Size Limit of 4 GiB on a disk
// with 5 GiB free. Such a change is refused on its field or line, unless
// the running configuration is refused for room too (then the disk, not
// the change, is short).

// queueRoom is the free space smtpd sees on the queue's file system:
// blocks available to unprivileged users, and their size.
type queueRoom struct{ free, block uint64 }

// roomProblem returns the parameter (queue_minfree or
// message_size_limit) that makes smtpd refuse all mail for want of room,
// with the sentence, or "" when there is room. Values are main.cf's
// expanded ones; a value that is not a number is not judged.
func roomProblem(main map[string]string, room queueRoom) (param, msg string) {
	if room.block == 0 {
		return "", ""
	}
	const answer = "smtpd would answer every MAIL FROM \"452 4.3.1 Insufficient system storage\", and senders would keep their mail until it bounces"
	free := room.free * room.block
	if v, err := strconv.ParseUint(strings.TrimSpace(main["queue_minfree"]), 10, 64); err == nil && v > 0 && v/room.block >= room.free {
		return "queue_minfree", fmt.Sprintf("queue_minfree = %d is not less than the %d bytes free on the queue's file system: %s. Keep it below the free space (0 is no reserve)", v, free, answer)
	}
	if v, err := strconv.ParseUint(strings.TrimSpace(main["message_size_limit"]), 10, 64); err == nil && v > 0 && float64(v/room.block) >= float64(room.free)/1.5 {
		return "message_size_limit", fmt.Sprintf("a Message Size Limit of %d bytes needs 1.5 times its size free on the queue's file system, which has %d bytes free: %s. Lower the limit below %d bytes, or make room", v, free, answer, uint64(float64(free)/1.5))
	}
	return "", ""
}

// queueFree reads the room of the queue directory; block 0 when it
// cannot be read.
func (m *Manager) queueFree() queueRoom {
	dir := m.inst.QueueDir()
	if dir == "" && m.catalog != nil {
		dir = m.catalog.defaultOf("queue_directory")
	}
	var fs syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &fs) != nil || fs.Bsize <= 0 {
		return queueRoom{}
	}
	return queueRoom{free: fs.Bavail, block: uint64(fs.Bsize)}
}

// checkQueueRoom refuses a staged configuration with a roomProblem the
// running configuration does not have. A first start has none to compare
// with, and is not refused: the disk, not a change, is short then.
func (m *Manager) checkQueueRoom(ctx context.Context, p plan, sc stagedConfig, params []Param) error {
	if p.firstMain {
		return nil
	}
	room := m.queueFree()
	param, msg := roomProblem(sc.main, room)
	if param == "" {
		return nil
	}
	if lv, ok := m.liveExpanded(ctx); ok {
		if live, _ := roomProblem(lv, room); live != "" {
			return nil // the disk is short whatever the change
		}
	}
	if param == "message_size_limit" {
		return store.Invalid(FieldMessageSizeLimit, "Message Size Limit: %s", msg)
	}
	return refError(params, param, "Parameter "+param+": "+msg)
}
