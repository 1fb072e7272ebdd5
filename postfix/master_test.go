package postfix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestMasterPIDIsMasterOnly: a pid file naming a process that is not this
// instance's master (master died and the pid went to another process)
// gives 0, so nothing signals that process. (postdeck runs on Linux,
// whose /proc MasterPID reads.)
func TestMasterPIDIsMasterOnly(t *testing.T) {
	queue := t.TempDir()
	if err := os.Mkdir(filepath.Join(queue, "pid"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := exec.Command("sleep", "30")
	other.Dir = queue // even in the queue directory: it is not master
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	pidFile := filepath.Join(queue, "pid", "master.pid")
	for _, content := range []string{
		strconv.Itoa(other.Process.Pid),
		"   " + strconv.Itoa(os.Getpid()) + "\n", // alive, elsewhere, not master
		"1", "0", "-5", "garbage", "",
	} {
		if err := os.WriteFile(pidFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := MasterPID(queue); got != 0 {
			t.Errorf("pid file %q: MasterPID = %d, want 0", content, got)
		}
	}
	if !Alive(other.Process.Pid) {
		t.Fatal("the other process died")
	}
}
