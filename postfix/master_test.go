package postfix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestMasterPIDFollowsTheQueueDirectory: a process named master counts
// only when it works in this queue directory (another instance's master
// does not), and a master that exited but was not waited for (a zombie)
// is not alive.
func TestMasterPIDFollowsTheQueueDirectory(t *testing.T) {
	queue, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(queue, "pid"), 0o755); err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	// A program whose process is named "master" (/proc/PID/comm).
	master := filepath.Join(t.TempDir(), "master")
	if err := os.WriteFile(master, b, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(dir, seconds string) *exec.Cmd {
		c := exec.Command(master, seconds)
		c.Dir = dir
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c
	}
	ours, theirs := start(queue, "30"), start(elsewhere, "30")
	pidFile := filepath.Join(queue, "pid", "master.pid")
	for _, tc := range []struct {
		pid  int
		want int
	}{{ours.Process.Pid, ours.Process.Pid}, {theirs.Process.Pid, 0}} {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(tc.pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := MasterPID(queue); got != tc.want {
			t.Errorf("pid file names %d: MasterPID = %d, want %d", tc.pid, got, tc.want)
		}
	}
	if !Alive(ours.Process.Pid) {
		t.Error("a running master is not alive")
	}

	// Exited, not waited for: a zombie until Wait.
	gone := start(queue, "0")
	deadline := time.Now().Add(10 * time.Second)
	for !zombie(gone.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("the short-lived master did not exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if Alive(gone.Process.Pid) {
		t.Error("a master that exited (a zombie) counts as alive")
	}
}

// zombie reads the process state from /proc, independently of Alive.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && strings.Contains(string(stat), ") Z ")
}

// TestGroupMembers: the live processes of a group are listed, its zombies
// are not, and a group whose processes all ended is empty.
func TestGroupMembers(t *testing.T) {
	// sh starts a child that ends at once, then becomes sleep, which
	// never waits for it: the child stays a zombie in the group.
	leader := exec.Command("sh", "-c", "true & exec sleep 30")
	leader.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = leader.Process.Kill()
			_ = leader.Wait()
		}
	})
	pid := leader.Process.Pid
	time.Sleep(200 * time.Millisecond) // the zombie exists
	if got := GroupMembers(pid); len(got) != 1 || got[0] != pid {
		t.Fatalf("GroupMembers = %v, want [%d] (the zombie left out)", got, pid)
	}
	if got := GroupMembers(os.Getpid() + 1<<22); got != nil {
		t.Errorf("GroupMembers of a group nobody is in = %v", got)
	}
	_ = leader.Process.Kill()
	_ = leader.Wait()
	stopped = true
	if got := GroupMembers(pid); got != nil {
		t.Errorf("GroupMembers after the group ended = %v", got)
	}
}
