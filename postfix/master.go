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
