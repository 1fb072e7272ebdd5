package mta

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// trashName is the directory under the configuration directory where an
// apply puts what it no longer needs: the previous apply's backup (the
// files that were live before it, kept for its rollback) and its own
// staging directory. Renaming them there is one rename each; removing
// them (a big map's old source and indexed file, megabytes that ext4
// mounted with discard frees at its next commit) costs milliseconds, and
// happens after the apply has stored its state and answered (emptyTrash).
// A crash leaves the directory behind: Start removes it.
const trashName = ".postdeck-trash"

// trash is what applies discarded and not yet removed.
type trash struct {
	mu      sync.Mutex
	seq     uint64
	pending []string // renamed into the trash, not yet being removed
	wg      sync.WaitGroup
}

// discard moves path (a file or directory) into the trash, for
// emptyTrash to remove once the apply is over. When it cannot be moved it
// is removed at once. A path that does not exist is nothing to do.
func (m *Manager) discard(path string) error {
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		return nil
	}
	dir := filepath.Join(m.inst.ConfigDir, trashName)
	m.trash.mu.Lock()
	m.trash.seq++
	to := filepath.Join(dir, strconv.FormatUint(m.trash.seq, 10)+"-"+filepath.Base(path))
	m.trash.mu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err == nil {
		if err := os.Rename(path, to); err == nil {
			m.trash.mu.Lock()
			m.trash.pending = append(m.trash.pending, to)
			m.trash.mu.Unlock()
			return nil
		}
	}
	return os.RemoveAll(path)
}

// emptyTrash removes, in the background, what was discarded until now.
func (m *Manager) emptyTrash() {
	m.trash.mu.Lock()
	pending := m.trash.pending
	m.trash.pending = nil
	if len(pending) > 0 {
		m.trash.wg.Add(1)
	}
	m.trash.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	go func() {
		defer m.trash.wg.Done()
		for _, p := range pending {
			if err := os.RemoveAll(p); err != nil {
				m.log.Warn("remove what an apply left", "path", p, "err", err)
			}
		}
	}()
}

// WaitTrash waits until what the applies so far discarded is removed
// (Shutdown; tests and benchmarks that measure the file system next).
func (m *Manager) WaitTrash() { m.trash.wg.Wait() }
