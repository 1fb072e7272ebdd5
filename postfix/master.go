package postfix

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// MasterPID reads queueDir/pid/master.pid, which tells instances apart;
// 0 when there is none.
func MasterPID(queueDir string) int {
	raw, err := os.ReadFile(filepath.Join(queueDir, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0
	}
	return pid
}

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
