package mpa

import (
	"sync"

	"postdeck/store"
)

// handoffs holds the entries sessions just committed, with their inline
// bodies, for the worker that takes each id first: it starts from what the
// session already has in memory instead of reading back and decoding what
// was just written (the store has it durably either way). Bounded: past
// handoffMaxEntries entries or handoffMaxBytes of bodies, or for a body
// kept in a file, nothing is held and the worker reads the store.
type handoffs struct {
	mu    sync.Mutex
	m     map[string]handoff
	bytes int
}

type handoff struct {
	entry store.SpoolEntry
	body  []byte // the inline body; nil for a body file
}

const (
	handoffMaxEntries = 4096
	handoffMaxBytes   = 16 << 20
)

// put keeps entry and its inline body for the first take of entry.ID, if
// the bounds allow.
func (h *handoffs) put(entry store.SpoolEntry, body []byte) {
	if body == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) >= handoffMaxEntries || h.bytes+len(body) > handoffMaxBytes {
		return
	}
	if h.m == nil {
		h.m = make(map[string]handoff)
	}
	h.m[entry.ID] = handoff{entry: entry, body: body}
	h.bytes += len(body)
}

// take returns and forgets what put kept for id.
func (h *handoffs) take(id string) (handoff, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ho, ok := h.m[id]
	if ok {
		delete(h.m, id)
		h.bytes -= len(ho.body)
	}
	return ho, ok
}
