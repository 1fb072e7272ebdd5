package mta

import (
	"fmt"

	"postdeck/store"
)

// CheckAccessResult checks value as the result an access(5) table
// answers, such as the value of every line of an SPF-derived map (the
// field "value" of an SPF source): OK, REJECT text, 4NN/5NN text, a
// restriction or a restriction class of the main config, ... Postfix
// answers a client whose line holds a result it does not know (0K,
// ACCEPT) with 451 4.3.5 Server configuration error, so such a value
// would defer all mail from the provider's servers.
func (m *Manager) CheckAccessResult(value string) error {
	st, err := m.db.LoadState()
	if err != nil {
		return fmt.Errorf("check access result: %w", err)
	}
	mc, err := m.mapContextFor(&st)
	if err != nil {
		return fmt.Errorf("check access result: %w", err)
	}
	if msg := checkRecipientAccess(mc, mapEntry{value: value}, false); msg != "" {
		return store.Invalid("value", "%s", msg)
	}
	return nil
}
