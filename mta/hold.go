package mta

import (
	"sync"
	"time"

	"postdeck/store"
)

// ResultHeld is the last apply's result while postdeck keeps its hands off
// Postfix's files (Manager.Hold).
const ResultHeld = "held"

// heldState is why the Manager does not apply anything, "" when it does.
type heldState struct {
	mu     sync.Mutex
	reason string
}

// Hold keeps postdeck from changing Postfix's files: every later Start and
// Update is refused with the reason, and the status page's last apply
// says it. The first start of a package on a server that runs Postfix
// holds when the import's check finds that taking over would change
// something else than the MPA's wiring and the managed map paths: the
// original configuration keeps running until the administrator decides.
func (m *Manager) Hold(reason string) {
	m.held.mu.Lock()
	m.held.reason = reason
	m.held.mu.Unlock()
	m.statusMu.Lock()
	m.last = ApplyReport{Time: time.Now().UTC(), Actor: "system", Action: "take over the running Postfix", Result: ResultHeld, Message: store.Sentence("%s", reason)}
	m.statusMu.Unlock()
}

// Held returns the reason of a Hold, "" when postdeck applies changes.
func (m *Manager) Held() string {
	m.held.mu.Lock()
	defer m.held.mu.Unlock()
	return m.held.reason
}

// heldErr is the refusal of a change while held.
func (m *Manager) heldErr() error {
	if r := m.Held(); r != "" {
		return store.Conflict("postdeck has not taken over Postfix, so it changes none of its files: %s", r)
	}
	return nil
}
