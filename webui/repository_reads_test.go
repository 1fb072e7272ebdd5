package webui

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"postdeck/store"
	"postdeck/webproxy"
)

// fillErrorRepository stores error entries from to to (ids in that
// order, the oldest first) straight into the stack's database.
func fillErrorRepository(t *testing.T, st *stack, from, to int) {
	t.Helper()
	entries := make([]store.ErrorEntry, 0, to-from)
	for i := from; i < to; i++ {
		entries = append(entries, store.ErrorEntry{ID: fmt.Sprintf("0000000000000%09d", i),
			Envelope: store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}},
			Size:     100, Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline,
			Reason: `template: missing key "x" ` + strings.Repeat("r", 500)})
	}
	if err := st.db.MPASpoolCommit("", nil, entries); err != nil {
		t.Fatal(err)
	}
}

// TestRepositoryPagesReadOnlyWhatTheyShow: the MPA Repository page, the
// confirmation of a selection and the page a refused action shows again
// cost the same for a repository of 5,000 entries as for one of 200,
// and still count all of them; each read (and decoded) the whole
// repository, up to its quota of 10,000 entries, to show 100. The
// handlers are called in the test's process for batches of views; the
// least a batch allocated per view counts.
func TestRepositoryPagesReadOnlyWhatTheyShow(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	cookie := c.sessionCookie()
	h := st.srv.newApp(kindWeb).Handler()
	perView := func(method, uri, form string, code int, want ...string) uint64 {
		t.Helper()
		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI(uri)
		req.Header.SetHost("console.example")
		req.Header.Set("Cookie", cookie)
		req.Header.Set(webproxy.PeerHeader, "127.0.0.1")
		if form != "" {
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.SetBodyString(form)
		}
		var rc fasthttp.RequestCtx
		rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
		h(&rc)
		body := string(rc.Response.Body())
		if got := rc.Response.StatusCode(); got != code {
			t.Fatalf("%s %s: %d, want %d\n%.500s", method, uri, got, code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s: %q missing from the page", method, uri, w)
			}
		}
		return leastAllocPerCall(func() {
			rc.Response.Reset()
			h(&rc)
		})
	}
	selection := url.Values{csrfField: {c.csrf}, "action": {"delete"}, "id": {"0000000000000000000001", "0000000000000000000150"}}.Encode()
	refused := url.Values{csrfField: {c.csrf}, "action": {"explode"}, "id": {"0000000000000000000001"}}.Encode()
	views := func(n int) []uint64 {
		return []uint64{
			perView("GET", "/queues/repository?offset=100", "", 200, "All "+fmt.Sprint(n)+":", "Showing 101 to 200."),
			perView("POST", "/queues/repository/actions", selection, 200, "Delete 2 messages?"),
			perView("POST", "/queues/repository/actions", refused, 400, "Unknown action", "All "+fmt.Sprint(n)+":"),
		}
	}
	const small, big = 2 * repositoryPageSize, 5000
	fillErrorRepository(t, st, 0, small)
	few := views(small)
	fillErrorRepository(t, st, small, big)
	many := views(big)
	// A selection with an id that is gone is refused, naming it.
	res := c.postForm("/queues/repository/actions", url.Values{"action": {"delete"}, "id": {"0000000000000000000001", "0000000000000000nosuch"}}, true)
	if res.Status != 404 || !strings.Contains(string(res.Body), "0000000000000000nosuch") || !strings.Contains(string(res.Body), "Nothing was changed.") {
		t.Errorf("a selection with an unknown id: %d", res.Status)
	}
	for i, what := range []string{"the list", "the confirmation of a selection", "a refused action"} {
		t.Logf("%s: a view allocates %d bytes with %d entries, %d with %d", what, few[i], small, many[i], big)
		if many[i] > few[i]*3/2 {
			t.Errorf("%s: a view of a repository of %d allocates %d bytes, of %d only %d: it reads more than it shows", what, big, many[i], small, few[i])
		}
	}
}
