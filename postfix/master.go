package postfix

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// MasterPID is the pid of the master process of the Postfix whose queue
// directory is queueDir (its pid/master.pid tells instances apart), 0 when
// none runs. The pid file alone is not enough: it stays when master dies
// without removing it (a failed start leaves it), and the kernel hands
// its pid to another process, which a stop by the file would then kill.
// So the process must be a "master" whose working directory is queueDir
// (master works in its queue directory). Without /proc the file is
// trusted.
func MasterPID(queueDir string) int {
	raw, err := os.ReadFile(filepath.Join(queueDir, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return 0
	}
	if !hasProc() {
		return pid
	}
	proc := "/proc/" + strconv.Itoa(pid)
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "master" {
		return 0
	}
	cwd, err := os.Stat(proc + "/cwd")
	if err != nil {
		return 0
	}
	if dir, err := os.Stat(queueDir); err != nil || !os.SameFile(cwd, dir) {
		return 0
	}
	return pid
}

// hasProc reports whether /proc is mounted (asked once: MasterPID runs
// at every look at Postfix's state).
var hasProc = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
})

// Alive reports whether process pid exists and is not a zombie (a master
// that died stays one until its parent, maybe not a reaping init, waits).
func Alive(pid int) bool {
	if pid <= 1 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	// pid (comm) S ...: the state follows the last ')'.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// GroupMembers lists the processes of process group pgid that still run
// (zombies left out), at most 64. Postfix's master leads its own session
// and every daemon it starts is in its group; after master exits, a child
// may live on for a moment (master's SIGTERM reaches it, but under load,
// or stopped, it exits later) and keep master's listening sockets open,
// so that a new master cannot bind them. Without /proc the group counts
// as running while the kernel knows any process of it (zombies too).
func GroupMembers(pgid int) []int {
	if pgid <= 1 || syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return nil
	}
	if !hasProc() {
		return []int{pgid}
	}
	dir, err := os.Open("/proc")
	if err != nil {
		return []int{pgid}
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return []int{pgid}
	}
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 1 {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: the fields follow the last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
			if len(pids) == 64 {
				break
			}
		}
	}
	return pids
}
