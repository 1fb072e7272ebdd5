package webui

import (
	"bytes"
	"strconv"
	"sync"
	"time"
)

// pageCache keeps rendered pages whose every part is named by a key: the
// view, the caller (name and role), the path (the menu's current entry),
// the banners' generation, and the handler's own key for its data (a
// version, or the values it shows). The session's CSRF token is the one
// part that differs between callers of one key: the page is rendered with
// a placeholder in its place, and each answer gets its own token written
// in. A page with a flash message is never cached. Executing a view is
// most of what a console page costs once its data is at hand.
type pageCache struct {
	// placeholder stands for the CSRF token in cached pages: random, of
	// the token's own alphabet (html/template writes it unchanged), and
	// never sent.
	placeholder []byte

	mu      sync.Mutex
	pages   map[string]cachedPage
	filling map[string]chan struct{} // keys being rendered; closed when done
}

// cachedPage is a rendered page cut where the placeholder stood: a
// served page is its parts with the caller's token between them, written
// without searching the page again.
type cachedPage [][]byte

// maxCachedPages bounds the cache; it is emptied when full (keys of data
// that changed are never asked for again).
const maxCachedPages = 128

func newPageCache() *pageCache {
	tok, err := randomToken()
	if err != nil {
		panic("page cache placeholder: " + err.Error())
	}
	return &pageCache{placeholder: []byte(tok), pages: map[string]cachedPage{}, filling: map[string]chan struct{}{}}
}

// maxFilling bounds the keys being rendered at once that others may
// wait for; past it a request renders without telling the others.
const maxFilling = 64

// fillWait bounds how long a request waits for another one's rendering
// of its page before it renders the page itself.
const fillWait = time.Second

// lookup returns the page kept under key. When there is none, either
// another request is rendering it (wait closes when it is done: look
// again then) or this one is to render it: mine is then its claim, to
// give to done once the page is put or the rendering failed.
func (pc *pageCache) lookup(key *pageKey) (page cachedPage, ok bool, wait, mine chan struct{}) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if p, ok := pc.pages[string(key.b)]; ok {
		return p, true, nil, nil
	}
	if ch, ok := pc.filling[string(key.b)]; ok {
		return nil, false, ch, nil
	}
	if len(pc.filling) >= maxFilling {
		return nil, false, nil, nil
	}
	mine = make(chan struct{})
	pc.filling[string(key.b)] = mine
	return nil, false, nil, mine
}

// done ends the rendering that mine claimed (nothing when mine is nil):
// the requests waiting for it look again.
func (pc *pageCache) done(key *pageKey, mine chan struct{}) {
	if mine == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.filling[string(key.b)] == mine {
		delete(pc.filling, string(key.b))
	}
	close(mine)
}

// get looks key up without copying it (the compiler makes no string of
// a []byte used only as a map index).
func (pc *pageCache) get(key *pageKey) (cachedPage, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	b, ok := pc.pages[string(key.b)]
	return b, ok
}

// put keeps a copy of page, rendered with the placeholder, under key and
// returns it.
func (pc *pageCache) put(key *pageKey, page []byte) cachedPage {
	cp := bytes.Split(bytes.Clone(page), pc.placeholder)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.pages) >= maxCachedPages {
		clear(pc.pages)
	}
	pc.pages[string(key.b)] = cp
	return cp
}

// fill writes page into dst with the session's CSRF token in place of the
// placeholder.
func (pc *pageCache) fill(dst interface {
	Write([]byte) (int, error)
	WriteString(string) (int, error)
}, page cachedPage, csrf string) {
	for i, part := range page {
		if i > 0 {
			dst.WriteString(csrf)
		}
		dst.Write(part)
	}
}

// pageKey builds a cache key from the parts that decide a page. Keys
// are built on every view of a cached page, and some hold a rendered
// table: their buffers come from a pool (newPageKey, release), so that a
// page served from the cache allocates next to nothing (the collector's
// work grows with the daemon's heap, which a full queue makes large).
// Every part is delimited (strings by their length), so different parts
// never make the same key.
type pageKey struct{ b []byte }

var pageKeys = sync.Pool{New: func() any { return &pageKey{b: make([]byte, 0, 1024)} }}

// newPageKey returns an empty key from the pool.
func newPageKey() *pageKey {
	k := pageKeys.Get().(*pageKey)
	k.b = k.b[:0]
	return k
}

// maxPooledKey bounds the buffers kept in the pool.
const maxPooledKey = 64 << 10

// release gives the key back to the pool; k must not be used after.
func (k *pageKey) release() {
	if k != nil && cap(k.b) <= maxPooledKey {
		pageKeys.Put(k)
	}
}

func (k *pageKey) str(s string) *pageKey {
	k.b = appendPart(k.b, s)
	return k
}

// appendPart appends p to a key, after its length.
func appendPart[T string | []byte](b []byte, p T) []byte {
	b = strconv.AppendInt(b, int64(len(p)), 10)
	b = append(b, ':')
	return append(b, p...)
}

func (k *pageKey) num(n int64) *pageKey {
	k.b = strconv.AppendInt(k.b, n, 10)
	k.b = append(k.b, ';')
	return k
}

func (k *pageKey) flag(v bool) *pageKey {
	if v {
		k.b = append(k.b, '1')
	} else {
		k.b = append(k.b, '0')
	}
	return k
}

// time appends a time as formatTime shows it (to the second).
func (k *pageKey) time(t time.Time) *pageKey {
	if t.IsZero() {
		return k.flag(false)
	}
	return k.flag(true).num(t.Unix())
}

// ago appends what ago(t) says, without formatting it.
func (k *pageKey) ago(t time.Time) *pageKey {
	unit, n := agoOf(t)
	return k.num(int64(unit)).num(n)
}

// duration appends what humanDuration(d) says, without formatting it.
func (k *pageKey) duration(d time.Duration) *pageKey {
	unit, n := durationOf(d)
	return k.num(int64(unit)).num(n)
}

// key appends another key as one part.
func (k *pageKey) key(o *pageKey) *pageKey {
	k.b = appendPart(k.b, o.b)
	return k
}

func (k *pageKey) String() string { return string(k.b) }
