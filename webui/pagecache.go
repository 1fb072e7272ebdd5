package webui

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
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

	mu    sync.Mutex
	pages map[string][]byte
}

// maxCachedPages bounds the cache; it is emptied when full (keys of data
// that changed are never asked for again).
const maxCachedPages = 128

func newPageCache() *pageCache {
	tok, err := randomToken()
	if err != nil {
		panic("page cache placeholder: " + err.Error())
	}
	return &pageCache{placeholder: []byte(tok), pages: map[string][]byte{}}
}

func (pc *pageCache) get(key string) ([]byte, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	b, ok := pc.pages[key]
	return b, ok
}

func (pc *pageCache) put(key string, page []byte) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.pages) >= maxCachedPages {
		clear(pc.pages)
	}
	pc.pages[key] = page
}

// fill writes page into dst with the session's CSRF token in place of the
// placeholder.
func (pc *pageCache) fill(dst interface {
	Write([]byte) (int, error)
	WriteString(string) (int, error)
}, page []byte, csrf string) {
	for {
		i := bytes.Index(page, pc.placeholder)
		if i < 0 {
			dst.Write(page)
			return
		}
		dst.Write(page[:i])
		dst.WriteString(csrf)
		page = page[i+len(pc.placeholder):]
	}
}

// pageKey builds a cache key from the parts that decide a page.
type pageKey struct{ b strings.Builder }

func (k *pageKey) str(s string) *pageKey {
	k.b.WriteString(strconv.Itoa(len(s)))
	k.b.WriteByte(':')
	k.b.WriteString(s)
	return k
}

func (k *pageKey) num(n int64) *pageKey {
	k.b.WriteString(strconv.FormatInt(n, 10))
	k.b.WriteByte(';')
	return k
}

func (k *pageKey) flag(v bool) *pageKey {
	if v {
		k.b.WriteByte('1')
	} else {
		k.b.WriteByte('0')
	}
	return k
}

func (k *pageKey) String() string { return k.b.String() }
